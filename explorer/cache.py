"""One on-disk cache for everything derived from a model, keyed by a digest of its weights.

Layout (under `default_cache_dir()`, or the cache_dir given)::

    models/<digest[:16]>/<kind>/<name>      e.g. models/3fa4.../maps/tsne-digits-....safetensors
                                                 models/3fa4.../eval/digits/{analysis.safetensors,metrics.json,README.md}
    trust/onnx-<sha256>.json                 the verdict on an ONNX file vetted in a child process (explorer.onnx.trust)

A model's entries stay valid exactly as long as its weight files are byte-identical, wherever the model
folder lives or however it is named; retraining or editing the weights gives a new digest and a fresh folder.
Arrays are stored as safetensors (never pickle) with string metadata; all writes are atomic (explorer.files).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from explorer.files import atomic_save_safetensors, file_sha256

CACHE_ENV = "VAE_EXPLORER_CACHE"
MODELS_DIR = "models"
TRUST_DIR = "trust"  # verdicts on ONNX files opened in a child process first (explorer.onnx.trust)
DIGEST_CHARS = 16  # hex characters of the digest that name a model's cache folder (64 bits)
# the weight files of each model format, by folder content (first match wins)
FOLDER_WEIGHTS: tuple[tuple[str, ...], ...] = (
    ("model.safetensors",),  # native
    ("diffusion_pytorch_model.safetensors",),  # diffusers AutoencoderKL
    ("encoder.onnx", "decoder.onnx"),  # ONNX pair
    ("vae_encoder/model.onnx", "vae_decoder/model.onnx"),  # ONNX in Optimum's layout (explorer.models.foreign.detect)
)
WEIGHT_SUFFIXES = (".safetensors", ".onnx")  # any other folder: every such file at its top level
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")


def default_cache_dir() -> Path:
    """$VAE_EXPLORER_CACHE, else ~/.cache/vae-explorer (the app's cache folder too)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vae-explorer").expanduser()


def weight_files(path: str | Path) -> list[Path]:
    """The files whose bytes define a model at path: a file is itself; a folder gives model.safetensors
    (native), diffusion_pytorch_model.safetensors (diffusers), encoder.onnx + decoder.onnx (ONNX pair),
    vae_encoder/model.onnx + vae_decoder/model.onnx (Optimum's layout), else
    every *.safetensors / *.onnx file in it. FileNotFoundError when there is none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a file or a folder")
    for names in FOLDER_WEIGHTS:
        if all((path / n).is_file() for n in names):
            return [path / n for n in names]
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"{path} holds no weight file ({', '.join(WEIGHT_SUFFIXES)})")
    return found


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; memoised on (path, size, mtime) so an unchanged file is read once per process."""
    return file_sha256(path)


def file_digest(path: str | Path) -> str:
    """sha256 hex digest of one file's bytes."""
    st = os.stat(path)
    return _file_digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def array_digest(*arrays: Any, dtype: Any = np.float32, prefix: bytes = b"") -> str:
    """The first 16 hex characters of the sha256 over `prefix`, then each array's C-order bytes as `dtype` (None:
    each array's own). The key of anything computed from arrays, in memory or on disk: stored maps and codebook
    counts are named by it, so the bytes it reads must stay as they are."""
    h = hashlib.sha256(prefix)
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=dtype).tobytes())
    return h.hexdigest()[:16]


def weights_digest(path_or_files: str | Path | Sequence[str | Path]) -> str:
    """sha256 hex digest (64 characters) identifying a model by its weights.

    A single file (or a native folder, whose weights are model.safetensors alone) gives the sha256 of that
    file's bytes, the digest `sha256sum` prints. Several files (an ONNX pair, an adapter .py with its weights, a
    list given) give the sha256 of their sorted "name digest" lines, so the order they are listed in does not
    matter but every file's content and name does.
    """
    if isinstance(path_or_files, (str, os.PathLike)):
        files = weight_files(path_or_files)
    else:
        files = [Path(p) for p in path_or_files]
        if not files:
            raise ValueError("weights_digest needs at least one file")
        for p in files:
            if not p.is_file():
                raise FileNotFoundError(f"{p} is not a file")
    if len(files) == 1:
        return file_digest(files[0])
    # a folder's files by their path in it (Optimum's two parts are both model.onnx, each in a folder of its own)
    given_folder = isinstance(path_or_files, (str, os.PathLike)) and Path(path_or_files).is_dir()
    folder = Path(path_or_files) if given_folder else None
    lines = sorted(f"{p.relative_to(folder).as_posix() if folder else p.name} {file_digest(p)}\n" for p in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value) or value in (".", ".."):
        raise ValueError(f"cache {what} {value!r} must be a plain name (letters, digits, . _ - @ + =)")
    return value


def model_cache_dir(digest: str, cache_dir: str | Path | None = None) -> Path:
    """The folder of one model's cached entries: CACHE/models/<first 16 hex characters of digest>.
    (Not created here.) A 16-character digest prefix, as older app caches used, names the same folder."""
    if not re.fullmatch(r"[0-9a-f]{16,64}", digest or ""):
        raise ValueError(f"not a weights digest (16 to 64 lowercase hex characters): {digest!r}")
    return Path(cache_dir or default_cache_dir()) / MODELS_DIR / digest[:DIGEST_CHARS]


def trust_verdict_path(file_sha256: str, cache_dir: str | Path | None = None) -> Path:
    """Where the verdict on an ONNX file with this sha256 is kept: CACHE/trust/onnx-<sha256>.json. (Not created.)"""
    if not re.fullmatch(r"[0-9a-f]{64}", file_sha256 or ""):
        raise ValueError(f"not a sha256 hex digest: {file_sha256!r}")
    return Path(cache_dir or default_cache_dir()) / TRUST_DIR / f"onnx-{file_sha256}.json"


def entry_path(digest: str, kind: str, name: str, cache_dir: str | Path | None = None) -> Path:
    """Where the cached entry `name` of `kind` ("maps", "eval", "onnx", ...) for a model lives. (Not created.)"""
    return model_cache_dir(digest, cache_dir) / _check_name(kind, "kind") / _check_name(name, "name")


def write_entry(path: str | Path, arrays: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> Path:
    """Write arrays (numpy or torch) and string metadata as a safetensors entry, atomically, creating its
    folder. Metadata values that are not strings are stored as JSON. Returns path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    return atomic_save_safetensors(arrays, path, meta)


def read_entry(path: str | Path) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(numpy arrays, metadata) of a safetensors entry, or None when it is missing, torn or not safetensors
    (a cache entry that cannot be read is simply computed again)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "np") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError, KeyError):
        return None
