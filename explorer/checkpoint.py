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
                    trusted_code: Collection[str | Path] = (), image_size: int | tuple[int, int] | None = None) -> VAE:
    """Rebuild a model from a checkpoint folder onto `device` ('auto', 'cpu', 'cuda', 'mps'), in eval mode.

    A diffusers AutoencoderKL folder, an ONNX pair folder or an adapter .py listed in `trusted_code` loads
    through explorer.models.foreign (image_size: diffusers only); pickles are refused, naming what is accepted.
    """
    folder = Path(folder_or_file)
    try:
        if detect_format(folder) != "native":
            return load_foreign(folder, resolve_device(device), trusted_code, image_size)
    except ForeignModelError as exc:
        raise CheckpointError(str(exc)) from None
    payload = read_config(folder)
    try:
        cls = get_model_class(payload["family"])
    except ValueError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {exc}") from None
    try:
        config = cls.config_class.from_dict(payload["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME} has an invalid config for family {cls.family!r}: {exc}") from None
    try:
        model = cls.from_config(config, folder)
    except (FileNotFoundError, ValueError) as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
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
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


def read_metrics(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / METRICS_NAME
    return json.loads(path.read_text()) if path.is_file() else {}
