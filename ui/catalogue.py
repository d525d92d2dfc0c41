"""The checkpoint catalogue: which folders are offered, what the picker says about them, and the cached loads.

Everything here but `_load_model` reads JSON (and safetensors arrays) only, so a fresh server can paint the
picker without importing torch. Models are cached once per process (`st.cache_resource`) and shared by every
session, so they are only ever used for inference; arrays go through `st.cache_data`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from ui.config import app_config


@dataclass(frozen=True)
class Entry:
    """One folder offered in the model picker."""

    folder: str
    name: str
    family: str = "?"
    summary: str = ""
    metrics: tuple[tuple[str, Any], ...] = ()  # key metrics for the picker
    dataset: str = ""
    error: str | None = None  # why it cannot be used, when known before loading


def _stamp(folder: Path) -> tuple:
    """Cheap fingerprint of a folder's files: a changed checkpoint gets a fresh cache entry."""
    out = []
    for name in ("config.json", "model.safetensors", "metrics.json", "analysis.safetensors"):
        try:
            s = (folder / name).stat()
            out.append((name, s.st_mtime_ns, s.st_size))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


def candidate_folders() -> list[Path]:
    """Every folder offered: the children of each model directory (or the directory itself if a checkpoint)."""
    found: list[Path] = []
    for root in app_config().model_dirs:
        if not root.is_dir():
            continue
        if (root / "config.json").is_file():
            found.append(root)
            continue
        found += sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return found


def torch_loaded() -> bool:
    """Whether torch and the model registry are imported yet (the first run of a fresh server avoids them)."""
    import sys

    return "explorer.models" in sys.modules and "torch" in sys.modules


def read_json(path: Path) -> Any:
    """A checkpoint's JSON file; ValueError names the file and the problem."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


@st.cache_data(show_spinner=False, max_entries=256)
def _describe(folder: str, stamp: tuple, check_family: bool) -> Entry:
    """What the picker shows about a folder, read without torch (the family is checked once torch is loaded)."""
    path = Path(folder)
    name = path.name
    try:
        if not (path / "config.json").is_file():
            raise ValueError(f"{folder} is not a checkpoint: config.json is missing")
        payload = read_json(path / "config.json")
        if not isinstance(payload, dict) or "family" not in payload or "config" not in payload:
            raise ValueError(f"{path / 'config.json'} does not describe a model: it needs 'family' and 'config' keys")
        if not (path / "model.safetensors").is_file():
            raise ValueError(f"{folder} is not a checkpoint: model.safetensors is missing")
        if check_family:
            from explorer.models.registry import get_model_class

            get_model_class(payload["family"])
    except (ValueError, OSError) as exc:
        return Entry(folder, name, error=str(exc))
    try:
        metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    except (OSError, ValueError) as exc:
        metrics = {"error": f"metrics.json unreadable: {exc}"}
    keys = ("iwae_nll_nats", "iwae_bits_per_dim", "elbo_nats", "active_units", "latent_dims")
    shown = tuple((k, metrics[k]) for k in keys if isinstance(metrics.get(k), (int, float)))
    dataset = (payload.get("dataset") or {}).get("name", "") if isinstance(payload.get("dataset"), dict) else ""
    return Entry(folder, name, str(payload["family"]), str(payload.get("summary") or ""), shown, dataset)


def list_models() -> list[Entry]:
    check = torch_loaded()
    return [_describe(str(f), _stamp(f), check) for f in candidate_folders()]


@st.cache_resource(show_spinner="Loading model ...", max_entries=8)
def _load_model(folder: str, device: str, stamp: tuple):
    from explorer.checkpoint import from_pretrained

    from ui.perf import settle

    model = from_pretrained(folder, device).eval()
    model.requires_grad_(False)  # shared by every session: inference only (calls also run in inference mode)
    settle(f"model {folder} {device} {stamp}")
    return model


@st.cache_data(show_spinner=False, max_entries=16)
def _read_analysis(folder: str, stamp: tuple) -> dict[str, np.ndarray]:
    from explorer.analysis.store import load_analysis

    return load_analysis(folder)


@st.cache_data(show_spinner=False, max_entries=16)
def _read_config(folder: str, stamp: tuple) -> dict[str, Any]:
    path = Path(folder)
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    return {"config": read_json(path / "config.json"), "metrics": metrics}


@st.cache_data(show_spinner=False, max_entries=32)
def _weights_digest(folder: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    with open(Path(folder) / "model.safetensors", "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


