"""Checkpoint folders: `config.json` + `model.safetensors` (+ `metrics.json`, `README.md`, analysis arrays).

Weights never go through pickle. Loading takes a map location, so a checkpoint trained on CUDA opens on a
CPU-only or Apple machine, and every mismatch between the config and the weights is reported by name.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

import explorer
from explorer.files import atomic_save_safetensors, atomic_write_bytes, atomic_write_json
from explorer.models.base import VAE
from explorer.models.foreign import ForeignModelError, detect_format, load_foreign
from explorer.models.registry import get_model_class

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
METRICS_NAME = "metrics.json"
CARD_NAME = "README.md"


class CheckpointError(ValueError):
    """A folder that is not a usable checkpoint; the message names the problem."""


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then CPU; anything else is checked for availability."""
    name = str(device or "auto")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but Apple MPS is not available; use --device cpu or auto")
    return dev


def available_devices() -> list[str]:
    """Device names usable on this machine, 'auto' first."""
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        names.append("mps")
    return names


def save_pretrained(model: VAE, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `config.json` and `model.safetensors` into folder; `extra` is stored in config.json (data set etc.)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "family": model.family,
        "config": model.config.to_dict(),
        "explorer_version": explorer.__version__,
        **(extra or {}),
    }
    atomic_save_safetensors(model.state_dict(), folder / WEIGHTS_NAME, metadata={"format": "pt"})
    atomic_write_json(folder / CONFIG_NAME, payload)
    for name, save in model.extra_files().items():
        atomic_write_bytes(folder / name, save)
    return folder


MAX_PARAMETERS = 250_000_000  # estimated from config.json before anything is built: ~1 GB of float32 weights
MAX_SIZE_FIELD = 1 << 20  # any one size (width, channels, kernel, latent_dim, ...) above this is not a real model
MAX_INPUT_VALUES = 1 << 22  # C x H x W of one input image (3 x 1024 x 1024 fits)


def _type_problem(name: str, annotation: Any, value: Any) -> str | None:
    """Why `value` from config.json cannot be field `name` of type `annotation`, or None when it can."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _type_problem(name, rest[0], value) if len(rest) == 1 else None
    if annotation is bool:
        return None if isinstance(value, bool) else f"{name} must be true or false, got {value!r}"
    if annotation is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{name} must be an integer, got {value!r}"
    if annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{name} must be a number, got {value!r}"
    if annotation is str:
        return None if isinstance(value, str) else f"{name} must be a string, got {value!r}"
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return f"{name} must be a list, got {value!r}"
        items = [a for a in args if a is not Ellipsis]
        if Ellipsis not in args and len(value) != len(args):
            return f"{name} must have {len(args)} entries, got {len(value)}"
        for i, item in enumerate(value):
            problem = _type_problem(f"{name}[{i}]", items[0] if Ellipsis in args else items[i], item)
            if problem:
                return problem
    return None


def check_config_values(config_class: type, values: Any) -> None:
    """Refuse config.json values of the wrong type, and sizes that would need absurd memory, before the config
    or the model is built: ValueError naming the field. The size is estimated from the fields alone, with no
    allocation (input values times latent size, plus the square of the largest width per layer)."""
    import math
    import typing
    from dataclasses import fields

    if not isinstance(values, dict):
        raise ValueError(f"'config' must be a JSON object, got {type(values).__name__}")
    hints = typing.get_type_hints(config_class)
    sizes: dict[str, int] = {}
    for f in fields(config_class):
        if f.name not in values:
            continue
        value = values[f.name]
        problem = _type_problem(f.name, hints.get(f.name), value)
        if problem:
            raise ValueError(problem)
        if (f.name == "input_shape" or "seed" in f.name or f.metadata.get("not_a_size")
                or isinstance(value, (bool, str, float)) or value is None):
            continue
        for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(item, int) and not isinstance(item, bool):
                label = f.name if not isinstance(value, (list, tuple)) else f"{f.name}[{i}]"
                if item > MAX_SIZE_FIELD:
                    raise ValueError(f"{label} = {item:,} is over {MAX_SIZE_FIELD:,}: too large for any model "
                                     "this app can build")
                sizes[label] = item
    shape = values.get("input_shape", getattr(config_class, "input_shape", (1, 28, 28)))
    if isinstance(shape, (list, tuple)) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        if any(s < 1 for s in shape):
            raise ValueError(f"input_shape must hold positive sizes, got {list(shape)}")
        if math.prod(shape) > MAX_INPUT_VALUES:
            raise ValueError(f"input_shape {list(shape)} has {math.prod(shape):,} values per image, over "
                             f"{MAX_INPUT_VALUES:,}")
        pixels = math.prod(shape)
    else:
        pixels = 1
    if not sizes:
        return
    ignored = set(getattr(config_class, "ignored_fields", ()))
    latent = 0 if "latent_dim" in ignored else sizes.get("latent_dim", 0)
    widest = max(sizes, key=sizes.get)
    # an encoder and a decoder each touch every input value at least once per unit of the widest layer
    estimate = pixels * max(latent, 1) + sizes[widest] ** 2 * len(sizes) + 2 * pixels * sizes[widest]
    if estimate > MAX_PARAMETERS:
        culprit = "latent_dim" if latent and pixels * latent >= sizes[widest] ** 2 * len(sizes) else widest
        raise ValueError(f"{culprit} = {sizes[culprit]:,} (with input_shape {list(shape)}) gives an estimated "
                         f"{estimate:.2g} parameters, over the limit of {MAX_PARAMETERS:.0e}: refused before "
                         "anything is allocated")


def read_config(folder: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint's config.json."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder: a checkpoint is a folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: {CONFIG_NAME} is missing")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or "family" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} does not describe a model: it needs 'family' and 'config' keys")
    if not isinstance(payload["family"], str) or not isinstance(payload["config"], dict):
        raise CheckpointError(f"{path}: 'family' must be a string and 'config' an object, got "
                              f"{type(payload['family']).__name__} and {type(payload['config']).__name__}")
    return payload


def load_weights(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file onto `device`; anything else (a pickle, a torn file) is a CheckpointError."""
    if not Path(path).is_file():
        raise CheckpointError(f"{path.parent} is not a checkpoint: {path.name} is missing")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path} is not a valid safetensors file ({exc}); weights must be saved with save_pretrained, "
            "pickled checkpoints are never loaded"
        ) from None


def from_pretrained(folder_or_file: str | Path, device: str | torch.device | None = "cpu", *,
                    trusted_code: Collection[str | Path] = (), image_size: int | tuple[int, int] | None = None,
                    preset: str | None = None) -> VAE:
    """Rebuild a model from a checkpoint folder onto `device` ('auto', 'cpu', 'cuda', 'mps'), in eval mode.

    A diffusers AutoencoderKL folder, an ONNX pair folder or an adapter .py listed in `trusted_code` loads
    through explorer.models.foreign (image_size: diffusers only), and so does an original-layout single-file
    AutoencoderKL .safetensors (preset: "sd1", "sdxl", "sd3" or "flux", the scaling the weights cannot tell; see
    `load_foreign`); pickles are refused, naming what is accepted.
    """
    folder = Path(folder_or_file)
    try:
        if detect_format(folder) != "native":
            return load_foreign(folder, resolve_device(device), trusted_code, image_size, preset)
    except ForeignModelError as exc:
        raise CheckpointError(str(exc)) from None
    payload = read_config(folder)
    try:
        cls = get_model_class(payload["family"])
    except ValueError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {exc}") from None
    try:
        check_config_values(cls.config_class, payload["config"])  # types and sizes, before anything is built
        config = cls.config_class.from_saved(payload["config"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME} has an invalid config for family {cls.family!r}: {exc}") from None
    try:
        model = cls.from_config(config, folder)
    except (FileNotFoundError, ValueError, TypeError, RuntimeError, IndexError, KeyError) as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: the model it describes cannot be built "
                              f"({type(exc).__name__}: {exc})") from None
    except MemoryError:
        raise CheckpointError(f"{folder / CONFIG_NAME}: the model it describes does not fit in memory") from None
    state = load_weights(folder / WEIGHTS_NAME, "cpu")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        for k in wrong[:5]:
            parts.append(f"{k}: config expects shape {tuple(expected[k].shape)}, weights have {tuple(state[k].shape)}")
        raise CheckpointError(f"{folder}: config.json and model.safetensors disagree: " + "; ".join(parts))
    weights = folder / WEIGHTS_NAME
    for key in sorted(state):
        want, got = expected[key], state[key]
        if want.is_floating_point() and not got.is_floating_point():
            raise CheckpointError(f"{weights}: tensor {key} has dtype {got.dtype}, the model needs floating point "
                                  f"({want.dtype})")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            bad = int((~torch.isfinite(got)).sum())
            raise CheckpointError(f"{weights}: tensor {key} holds {bad} NaN or infinite value(s): the weights are "
                                  "damaged (or training diverged); retrain or restore the file")
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


def read_metrics(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / METRICS_NAME
    return json.loads(path.read_text()) if path.is_file() else {}
