"""Latent files: a code, a set of codes or a walk / interpolation path saved as `.safetensors`, and read back.

A file this module writes holds the tensor `latents` (float32: the code `latent_shape`, or `(N, *latent_shape)`
codes or path frames), optionally `axes` (K, D) and `axes_scales` (K,), and safetensors' own string metadata:

    format          "vae-latent-explorer/latents"     format_version  "1"
    kind            "code" | "codes" | "path"         weights_digest  sha256 of the model's weights (explorer.cache)
    latent_shape    JSON list, the model's code shape code_shape      JSON list, the shape of `latents`
    scaling_factor  code = (latent - shift_factor) * scaling_factor, as diffusers names them (1 and 0: the code is
    shift_factor    the latent); `scaling` says the same in words
    latents_mean    with per-channel statistics (SDXL-style), JSON lists, one per latent channel:
    latents_std     code[c] = (latent[c] - latents_mean[c]) * scaling_factor / latents_std[c]
    axes_kind, axes_labels   with `axes`: explorer.latent.Axes' kind and labels
    walk            JSON object: the walk page's link state (start, axes, n, v, class; ui/shared/walk_url.py)
    family          the model's family, for messages

`load_latents` checks a file against the model it is loaded for: another model's file is refused naming both
digests (`force=True` takes it where the shapes agree); codes saved under another scaling are refused or converted
(`scaling_policy`). Arrays made elsewhere come in as plain `.npy` (read with allow_pickle=False) or bare
`.safetensors` tensors of the model's code shape, with the scaling they were saved under stated by the caller.
Every problem is a `LatentFileError` whose message names the file, what is wrong and what is accepted.
"""

from __future__ import annotations

import io
import json
import math
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load

from explorer.files import atomic_save_safetensors, is_torch_tensor
from explorer.latent import Axes
from explorer.models.base import VAE
from explorer.models.latent_scaling import LatentScaling

FORMAT = "vae-latent-explorer/latents"
FORMAT_VERSION = 1
KINDS = ("code", "codes", "path")
SCALING_POLICIES = ("refuse", "convert")
TENSOR = "latents"
BARE_NAMES = ("latents", "latent", "codes", "code", "z")  # tensors a bare .safetensors file may hold, tried in order
MAX_BYTES = 256 << 20  # a latent file is codes, not weights: anything larger is refused before it is parsed
NPY_MAGIC = b"\x93NUMPY"
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # a pickle protocol byte; a zip (torch.save)
DIGEST_MIN = 16  # characters compared: the app shortens digests to 16 (explorer.cache.DIGEST_CHARS)


class LatentFileError(ValueError):
    """A latent file that cannot be used for this model; the message is meant for the page or the notebook."""


class ModelMismatchError(LatentFileError):
    """The file was made for another model (its weights digest differs); `force=True` loads it anyway."""


class ScalingMismatchError(LatentFileError):
    """The codes were saved under another scaling; `scaling_policy="convert"` converts them."""


@dataclass(frozen=True)
class LatentSpace:
    """What a latent file is checked against: a model's weights digest, code shape and scaling."""

    digest: str  # sha256 hex of the weights (64 characters; the app's 16-character prefix also matches)
    latent_shape: tuple[int, ...]
    scaling_factor: float = 1.0
    shift_factor: float = 0.0
    family: str = ""
    size_multiple: int = 0  # > 0: a spatial code of any height and width is decoded (convolutional models)
    latents_mean: tuple[float, ...] = ()  # per latent channel (SDXL-style); () when the latent is scaled as a whole
    latents_std: tuple[float, ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.latent_shape)

    @property
    def scaling(self) -> LatentScaling:
        return LatentScaling(self.scaling_factor, self.shift_factor, tuple(self.latents_mean), tuple(self.latents_std))


def latent_space(model: VAE | LatentSpace, digest: str | None = None) -> LatentSpace:
    """The LatentSpace of a model (digest: explorer.cache.weights_digest of its folder or file, required for a
    VAE since a model object does not know where it was loaded from); a LatentSpace passes through."""
    if isinstance(model, LatentSpace):
        return model
    if not digest:
        raise LatentFileError("a latent file records the model's weights digest: pass digest="
                              "explorer.cache.weights_digest(<model folder>)")
    scaling = model.latent_scaling()
    return LatentSpace(str(digest), tuple(int(s) for s in model.latent_shape), float(scaling.scaling_factor),
                       float(scaling.shift_factor), model.family, int(model.capabilities().size_multiple),
                       scaling.latents_mean, scaling.latents_std)


@dataclass(frozen=True)
class LatentFile:
    """What `load_latents` gives: codes in the model's code space, and what the file said about them."""

    codes: np.ndarray  # float32 (N, *latent_shape): one row for kind "code"
    kind: str  # "code", "codes" or "path"
    digest: str  # the file's weights digest ("" for an imported array)
    scaling_factor: float  # the scaling the file was saved under (before any conversion)
    shift_factor: float
    source: str  # "explorer" (written by save_latents), "npy" or "safetensors" (an imported array)
    axes: Axes | None = None
    walk: dict[str, str] = field(default_factory=dict)  # the walk page's link state, when saved there
    notes: tuple[str, ...] = ()  # what was done to accept it (forced, converted), for the page to say

    @property
    def code(self) -> np.ndarray:
        """The first code, (*latent_shape)."""
        return self.codes[0]


def _shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_codes(array: np.ndarray, space: LatentSpace, name: str) -> tuple[np.ndarray, str]:
    """(codes (N, *shape), kind) from an array that is one code or a stack of codes (flat or shaped); a
    LatentFileError names the array's shape and the accepted ones."""
    shape = tuple(space.latent_shape)
    a = np.asarray(array)
    if a.ndim == len(shape) and _fits(a.shape, space):
        return a[None], "code"
    if a.ndim == len(shape) + 1 and _fits(a.shape[1:], space) and a.shape[0] > 0:
        return a, "codes"
    if len(shape) > 1 and a.ndim in (1, 2) and a.shape[-1] == space.size and a.size > 0:  # flat spatial codes
        flat = a.reshape(-1, *shape)
        return flat, "code" if a.ndim == 1 else "codes"
    accepted = f"one code {_shape_text(shape)} or codes (N, {', '.join(map(str, shape))})"
    if len(shape) > 1:
        accepted += f", or the same flattened to ({space.size},) / (N, {space.size})"
    raise LatentFileError(f"{name}: an array of shape {_shape_text(a.shape)} does not fit this model's code; "
                          f"accepted: {accepted}")


def _fits(shape: tuple[int, ...], space: LatentSpace) -> bool:
    want = tuple(space.latent_shape)
    if tuple(shape) == want:
        return True
    # a convolutional model decodes a spatial code of any height and width: the channels must agree
    return bool(space.size_multiple) and len(want) == 3 and len(shape) == 3 and shape[0] == want[0] and min(shape) > 0


def _check_values(codes: np.ndarray, name: str) -> np.ndarray:
    if codes.dtype.kind not in "fiu":
        raise LatentFileError(f"{name}: the array holds {codes.dtype} values; latent codes are real numbers "
                              "(float or integer arrays)")
    out = codes.astype(np.float32)
    if not np.isfinite(out).all():
        raise LatentFileError(f"{name}: the array holds {int((~np.isfinite(out)).sum())} NaN or infinite values")
    return out


def _axes_arrays(axes: Axes | np.ndarray | None, space: LatentSpace) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if axes is None:
        return {}, {}
    vectors = np.asarray(axes.vectors if isinstance(axes, Axes) else axes, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None]
    if vectors.ndim != 2 or vectors.shape[1] != space.size:
        raise LatentFileError(f"axes of shape {_shape_text(vectors.shape)} do not fit this model: axes are "
                              f"(K, {space.size}) directions in the flat code space")
    if isinstance(axes, Axes):
        return ({"axes": vectors, "axes_scales": np.asarray(axes.scales, dtype=np.float32)},
                {"axes_kind": axes.kind, "axes_labels": json.dumps(list(axes.labels))})
    return {"axes": vectors, "axes_scales": np.ones(len(vectors), np.float32)}, {"axes_kind": "given"}


def save_latents(path: str | Path, codes: Any, model: VAE | LatentSpace, kind: str = "code", *,
                 digest: str | None = None, axes: Axes | np.ndarray | None = None,
                 walk: Mapping[str, str] | None = None) -> Path:
    """Write codes (numpy or torch) as a latent file; returns its path (written atomically).

    kind "code": one code (*latent_shape) (or (1, *latent_shape)); "codes": a set (N, *latent_shape); "path": the
    frames of a walk or interpolation (N, *latent_shape), in order. model: the VAE the codes belong to, with its
    weights digest (explorer.cache.weights_digest of its folder), or a LatentSpace. axes: the walk's
    explorer.latent.Axes or directions (K, D); walk: the walk page's link state. The codes are saved in the model's
    code space, and its scaling is recorded."""
    if kind not in KINDS:
        raise LatentFileError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    space = latent_space(model, digest)
    name = Path(path).name
    array = codes.detach().to("cpu").numpy() if is_torch_tensor(codes) else np.asarray(codes)
    stacked, found = _as_codes(array, space, name)
    if kind == "code" and len(stacked) != 1:
        raise LatentFileError(f"{name}: kind 'code' is one code, got {len(stacked)}; save them as kind 'codes'")
    stacked = _check_values(stacked, name)
    tensor = stacked[0] if kind == "code" else stacked
    extra, axes_meta = _axes_arrays(axes, space)
    metadata = {
        "format": FORMAT, "format_version": str(FORMAT_VERSION), "kind": kind, "weights_digest": space.digest,
        "latent_shape": json.dumps(list(space.latent_shape)), "code_shape": json.dumps(list(tensor.shape)),
        **space.scaling.metadata(), "family": space.family, **axes_meta,
    }
    if walk:
        metadata["walk"] = json.dumps({str(k): str(v) for k, v in walk.items()}, sort_keys=True)
    return atomic_save_safetensors({TENSOR: np.ascontiguousarray(tensor), **extra}, path, metadata)


def latents_bytes(codes: Any, model: VAE | LatentSpace, kind: str = "code", *, digest: str | None = None,
                  axes: Axes | np.ndarray | None = None, walk: Mapping[str, str] | None = None) -> bytes:
    """The bytes `save_latents` would write (for a download button)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_latents(Path(tmp) / "latents.safetensors", codes, model, kind, digest=digest, axes=axes, walk=walk)
        return path.read_bytes()


# -- reading ---------------------------------------------------------------------------------------
def _read_source(source: str | Path | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "the uploaded file"
    else:
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            raise LatentFileError(f"{path}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise LatentFileError(f"{label} is {path.stat().st_size:,} bytes, over the {MAX_BYTES:,} a latent file may be")
        data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise LatentFileError(f"{label} is {len(data):,} bytes, over the {MAX_BYTES:,} a latent file may be")
    return data, label


def _read_npy(data: bytes, label: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise LatentFileError(f"{label} holds an object array, which only a pickle can load; pickles are never "
                                  "loaded: save a numeric array (np.save of a float array)") from None
        raise LatentFileError(f"{label} is not a complete .npy file ({exc})") from None
    except (EOFError, OSError) as exc:
        raise LatentFileError(f"{label} is not a complete .npy file ({exc or 'it ends early'})") from None
    if not isinstance(array, np.ndarray):
        raise LatentFileError(f"{label} is not a single .npy array (an .npz archive is not read)")
    return array


def _read_safetensors(data: bytes, label: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + size])
        metadata = header.get("__metadata__") or {}
        tensors = load(data)
    except (SafetensorError, struct.error, ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise LatentFileError(f"{label} is not a complete safetensors file ({str(exc) or type(exc).__name__}): "
                              "truncated or damaged") from None
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def _digests_agree(a: str, b: str) -> bool:
    n = min(len(a), len(b))
    return n >= DIGEST_MIN and a[:n].lower() == b[:n].lower()


def _scaling_of(value: Any, space: LatentSpace, label: str) -> LatentScaling:
    """The caller's statement of an imported array's scaling: "model", a scaling_factor, or (scaling, shift)."""
    if isinstance(value, str) and value == "model":
        return space.scaling
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        pair = (float(value), 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (float(value[0]), float(value[1]))
    else:
        raise LatentFileError(f"{label}: scaling {value!r} is not one of: \"model\" (the array is in this model's "
                              "code space), a scaling_factor, or (scaling_factor, shift_factor)")
    if not (math.isfinite(pair[0]) and pair[0] != 0 and math.isfinite(pair[1])):
        raise LatentFileError(f"{label}: scaling_factor must be a finite non-zero number, got {pair[0]}")
    return LatentScaling(*pair)


def convert_scaling(codes: np.ndarray, saved: LatentScaling | tuple[float, float],
                    wanted: LatentScaling | tuple[float, float]) -> np.ndarray:
    """Codes (N, C, ...) saved under one scaling re-expressed under another (same shape, float32): back to the
    latent through `saved`, then forward through `wanted`; a (scaling_factor, shift_factor) pair is a scalar
    LatentScaling."""
    before, after = (s if isinstance(s, LatentScaling) else LatentScaling(*s) for s in (saved, wanted))
    latent = before.latent_from_code(torch.from_numpy(np.asarray(codes, dtype=np.float64)))
    return after.code_from_latent(latent).numpy().astype(np.float32)


def _said(scaling: LatentScaling) -> str:
    """A scaling in a message: the factors as before, with the per-channel form named."""
    text = f"scaling_factor {scaling.scaling_factor:g} (shift {scaling.shift_factor:g})"
    return text + " with per-channel latents_mean / latents_std" if scaling.per_channel else text


def _axes_from(tensors: dict[str, np.ndarray], meta: dict[str, str], space: LatentSpace) -> Axes | None:
    if "axes" not in tensors:
        return None
    vectors = tensors["axes"].astype(np.float64)
    if vectors.ndim != 2 or vectors.shape[1] != space.size:
        return None  # axes of another code size (a forced file): the codes are still usable
    scales = tensors.get("axes_scales", np.ones(len(vectors))).astype(np.float64)
    try:
        labels = [str(x) for x in json.loads(meta.get("axes_labels", "[]"))]
    except ValueError:
        labels = []
    if len(labels) != len(vectors):
        labels = [f"axis {i}" for i in range(len(vectors))]
    return Axes(vectors, scales, labels, np.zeros(len(vectors), bool), meta.get("axes_kind", "given"))


def load_latents(source: str | Path | bytes, model: VAE | LatentSpace, *, digest: str | None = None,
                 force: bool = False, scaling_policy: str = "refuse", scaling: Any = None,
                 name: str | None = None) -> LatentFile:
    """Read a latent file (a path, or the bytes of an upload named `name`) for a model; returns a LatentFile whose
    codes are in the model's code space.

    A file written by `save_latents` for another model raises ModelMismatchError naming both digests, unless
    force=True (its codes must still fit the model's code shape). Codes saved under another scaling raise
    ScalingMismatchError with scaling_policy="refuse" and are converted with "convert". A plain .npy array or a
    bare .safetensors tensor (one, or one named latents / latent / codes / code / z) made elsewhere is imported
    when its shape fits; `scaling` states what it was saved under: "model" (this model's code space), a
    scaling_factor, or (scaling_factor, shift_factor); for a model whose code is its latent it defaults to "model".
    Any other problem (truncated, pickled, wrong shape, not numbers) is a LatentFileError."""
    if scaling_policy not in SCALING_POLICIES:
        raise LatentFileError(f"scaling_policy {scaling_policy!r} is not one of {', '.join(SCALING_POLICIES)}")
    space = latent_space(model, digest)
    data, label = _read_source(source, name)
    wanted = space.scaling
    notes: list[str] = []
    if data.startswith(NPY_MAGIC):
        tensors, meta, source_kind = {TENSOR: _read_npy(data, label)}, {}, "npy"
    elif len(data) >= 9 and data[8:9] == b"{":  # safetensors: an 8-byte header length, then the JSON header
        tensors, meta = _read_safetensors(data, label)
        source_kind = "explorer" if meta.get("format") == FORMAT else "safetensors"
    elif data.startswith(PICKLE_MAGIC):
        raise LatentFileError(f"{label} is a pickle (or a torch.save zip); pickles are never loaded. Accepted: a "
                              ".safetensors latent file, a bare .safetensors tensor, or a plain .npy array")
    else:
        raise LatentFileError(f"{label} ({len(data)} bytes) is not a latent file: accepted are a .safetensors latent "
                              "file, a bare .safetensors tensor, or a plain .npy array")

    if source_kind == "explorer":
        return _from_own_file(tensors, meta, space, label, force, scaling_policy, wanted)
    array = _bare_tensor(tensors, label)
    codes, kind = _as_codes(array, space, label)
    codes = _check_values(codes, label)
    if scaling is None:
        if wanted != LatentScaling():
            raise LatentFileError(
                f"{label} carries no scaling, and this model's codes are scaled ({wanted.describe()}): state what "
                "the array holds: scaling=\"model\" (codes in this model's space), or the scaling_factor (and "
                "shift_factor) it was saved under (1 for raw latents)")
        scaling = "model"
    saved = _scaling_of(scaling, space, label)
    if saved != wanted:
        codes = convert_scaling(codes, saved, wanted)
        notes.append(f"converted from {_said(saved)} to this model's {_said(wanted)}")
    return LatentFile(codes, kind, "", saved.scaling_factor, saved.shift_factor, source_kind, notes=tuple(notes))


def _bare_tensor(tensors: dict[str, np.ndarray], label: str) -> np.ndarray:
    if len(tensors) == 1:
        return next(iter(tensors.values()))
    for key in BARE_NAMES:
        if key in tensors:
            return tensors[key]
    names = ", ".join(sorted(tensors)[:8]) or "none"
    raise LatentFileError(f"{label} holds several tensors ({names}); an imported file holds one, or one named "
                          f"{', '.join(BARE_NAMES)}")


def _from_own_file(tensors: dict[str, np.ndarray], meta: dict[str, str], space: LatentSpace, label: str,
                   force: bool, scaling_policy: str, wanted: LatentScaling) -> LatentFile:
    try:
        version = int(meta.get("format_version", "0"))
        saved = LatentScaling.from_metadata(meta, None, "its scaling")
        walk = json.loads(meta["walk"]) if meta.get("walk") else {}
    except ValueError as exc:
        raise LatentFileError(f"{label}: its metadata cannot be read ({exc})") from None
    if version > FORMAT_VERSION:
        raise LatentFileError(f"{label} is latent file format {version}; this version reads format {FORMAT_VERSION} "
                              "and older: update vae-latent-explorer")
    kind = meta.get("kind", "codes")
    if kind not in KINDS or TENSOR not in tensors:
        raise LatentFileError(f"{label}: a latent file names its kind ({', '.join(KINDS)}) and holds '{TENSOR}'; "
                              f"this one has kind {kind!r} and tensors {sorted(tensors)}")
    notes: list[str] = []
    theirs = meta.get("weights_digest", "")
    if not _digests_agree(theirs, space.digest):
        if not force:
            raise ModelMismatchError(
                f"{label} was made for another model: its weights digest is {theirs[:DIGEST_MIN] or '(none)'}, this "
                f"model's is {space.digest[:DIGEST_MIN]}. Load it anyway with force=True (the 'load anyway' box on "
                "the walk page) where the code shapes agree")
        notes.append(f"made for model {theirs[:DIGEST_MIN]}, loaded for {space.digest[:DIGEST_MIN]} (forced)")
    codes, _ = _as_codes(tensors[TENSOR], space, label)
    if kind == "code" and len(codes) != 1:
        raise LatentFileError(f"{label}: its kind is 'code' (one code) but it holds {len(codes)}")
    codes = _check_values(codes, label)
    if saved != wanted:
        said = f"{label} holds codes saved under {_said(saved)}; this model's is {_said(wanted)}"
        if scaling_policy == "refuse":
            raise ScalingMismatchError(said + ": convert them with scaling_policy=\"convert\" (the 'convert' choice on "
                                       "the walk page)")
        if saved.per_channel and len(saved.latents_mean) != space.latent_shape[0]:
            raise LatentFileError(f"{label}: its latents_mean has {len(saved.latents_mean)} values for this model's "
                                  f"{space.latent_shape[0]} latent channels: it cannot be converted")
        codes = convert_scaling(codes, saved, wanted)
        notes.append(f"converted from {_said(saved)} to {_said(wanted)}")
    return LatentFile(codes, kind, theirs, saved.scaling_factor, saved.shift_factor, "explorer",
                      _axes_from(tensors, meta, space),
                      {str(k): str(v) for k, v in walk.items()} if isinstance(walk, dict) else {}, tuple(notes))


__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "LatentFile", "LatentFileError", "LatentSpace", "ModelMismatchError",
           "ScalingMismatchError", "convert_scaling", "latent_space", "latents_bytes", "load_latents", "save_latents"]
