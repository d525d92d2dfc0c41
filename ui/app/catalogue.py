"""The checkpoint catalogue: which folders are offered, what the picker says about them, and the cached loads.

Besides this project's checkpoint folders the picker offers models trained elsewhere (a diffusers
AutoencoderKL folder, an ONNX pair folder, and the adapter files trusted with `--trust-code`), and lists
pickled or foreign files with the reason they are refused (explorer.models.foreign.detect, torch-free).
Everything here but `load_model` reads JSON (and safetensors arrays) only, so a fresh server can paint the
picker without importing torch. Models are cached once per process (`st.cache_resource`) and shared by every
session, so they are only ever used for inference; arrays go through `st.cache_data`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer.cache import DIGEST_CHARS, weights_digest
from ui.app.config import app_config
from ui.app.perf import settle
from ui.services.lazy import torch_side


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
    kind: str = "native"  # explorer.models.foreign.detect_format: native, diffusers, onnx or adapter

    @property
    def foreign(self) -> bool:
        return self.kind != "native"


# files offered in the picker so that a user who drops one into a models folder learns why it does not load
OFFERED_FILE_SUFFIXES = (".py", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".pt2", ".onnx")


def folder_stamp(folder: Path) -> tuple:
    """Cheap fingerprint of a model's files (a folder's top-level files, or the file itself, and its
    evaluations): a changed checkpoint gets a fresh cache entry."""
    out = []
    try:
        paths = [folder] if folder.is_file() else sorted(p for p in folder.iterdir() if p.is_file())
        evals = folder / "eval"
        if evals.is_dir():
            paths += sorted(evals.glob("*/metrics.json"))
    except OSError:
        paths = []
    for path in paths:
        try:
            s = path.stat()
            out.append((path.name if path.parent == folder else str(path), s.st_mtime_ns, s.st_size))
        except OSError:
            out.append((path.name, None, None))
    return tuple(out) or (("missing", None, None),)


def _looks_like_model(path: Path) -> bool:
    if path.name.startswith((".", "_")):
        return False
    return path.is_dir() or path.suffix.lower() in OFFERED_FILE_SUFFIXES


def candidate_folders() -> list[Path]:
    """Every model offered: the children of each model directory (or the directory itself if it is a model),
    then the adapter files trusted on the command line."""
    describe_model_path = torch_side().foreign.describe_model_path

    found: list[Path] = []
    for root in app_config().model_dirs:
        if not root.is_dir():
            continue
        if describe_model_path(root)["kind"] is not None:
            found.append(root)
            continue
        found += sorted(p for p in root.iterdir() if _looks_like_model(p))
    for path in app_config().trusted_code:
        if path not in found:
            found.append(path)
    return found


def is_trusted(path: Path) -> bool:
    """Whether the user trusted this adapter file on the command line (--trust-code)."""
    return Path(path).resolve() in app_config().trusted_code


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
    describe_model_path = torch_side().foreign.describe_model_path

    described = describe_model_path(path)
    if described["kind"] != "native":
        error = described["error"]
        if described["kind"] is None and not error:
            error = f"{folder} is not a checkpoint: config.json is missing"
        if described["kind"] == "adapter" and not error and not is_trusted(path):
            error = (f"{path} is Python code: it runs only when the app is started with --trust-code {path} "
                     "(never from a folder picked in the browser)")
        metrics = _evaluation_metrics(path)
        return Entry(folder, described["name"], described["kind"] or "?", described["summary"], metrics, "", error,
                     described["kind"] or "native")
    try:
        if not (path / "config.json").is_file():
            raise ValueError(f"{folder} is not a checkpoint: config.json is missing")
        payload = read_json(path / "config.json")
        if not isinstance(payload, dict) or "family" not in payload or "config" not in payload:
            raise ValueError(f"{path / 'config.json'} does not describe a model: it needs 'family' and 'config' keys")
        if not (path / "model.safetensors").is_file():
            raise ValueError(f"{folder} is not a checkpoint: model.safetensors is missing")
        if check_family:
            get_model_class = torch_side().registry.get_model_class

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


def _evaluation_metrics(path: Path) -> tuple[tuple[str, Any], ...]:
    """The picker's key metrics of a model trained elsewhere: those of its first evaluation, if any."""
    evals = sorted((path / "eval").glob("*/metrics.json")) if path.is_dir() else []
    if not evals:
        return ()
    try:
        metrics = read_json(evals[0])
    except (OSError, ValueError):
        return ()
    keys = ("iwae_nll_nats", "iwae_bits_per_dim", "elbo_nats", "active_units", "latent_dims")
    return tuple((k, metrics[k]) for k in keys if isinstance(metrics.get(k), (int, float)))


def list_models() -> list[Entry]:
    check = torch_loaded()
    return [_describe(str(f), folder_stamp(f), check) for f in candidate_folders()]


@st.cache_resource(show_spinner="Loading model ...", max_entries=8)
def load_model(folder: str, device: str, stamp: tuple):
    from_pretrained = torch_side().checkpoint.from_pretrained


    cfg = app_config()
    trusted = [Path(folder)] if is_trusted(Path(folder)) else []  # only ever the file itself, and only if trusted
    model = from_pretrained(folder, device, trusted_code=trusted, image_size=cfg.image_size).eval()
    model.requires_grad_(False)  # shared by every session: inference only (calls also run in inference mode)
    settle(f"model {folder} {device} {stamp}")
    return model


@st.cache_data(show_spinner=False, max_entries=16)
def read_analysis(folder: str, stamp: tuple) -> dict[str, np.ndarray]:
    load_analysis = torch_side().store.load_analysis

    return load_analysis(folder)


@st.cache_data(show_spinner=False, max_entries=16)
def read_config(folder: str, stamp: tuple) -> dict[str, Any]:
    """config.json and metrics.json of a native checkpoint; for a model trained elsewhere a stand-in config
    naming its kind (its own files are read when it loads)."""
    detect_format = torch_side().foreign.detect_format

    path = Path(folder)
    kind = detect_format(path)
    if kind != "native":
        return {"config": {"family": kind, "config": {}, "foreign": True}, "metrics": {}}
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    return {"config": read_json(path / "config.json"), "metrics": metrics}


@st.cache_data(show_spinner=False, max_entries=32)
def evaluations(folder: str, stamp: tuple) -> dict[str, str]:
    """The evaluate command's results for this model: data set name -> folder (MODEL/eval/ or the cache)."""
    find_evaluations = torch_side().store.find_evaluations

    try:
        return {name: str(p) for name, p in find_evaluations(folder, app_config().cache_dir).items()}
    except OSError:
        return {}


@st.cache_data(show_spinner=False, max_entries=16)
def read_evaluation(eval_folder: str, stamp: tuple) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metrics, analysis arrays) of one evaluation folder."""
    load_evaluation = torch_side().store.load_evaluation

    return load_evaluation(eval_folder)


@st.cache_data(show_spinner=False, max_entries=32)
def folder_digest(folder: str, stamp: tuple) -> str:
    """The weights' digest (explorer.cache, shortened as its cache folders are), for any kind of model."""
    return weights_digest(Path(folder))[:DIGEST_CHARS]


def condition_classes(config: dict[str, Any]) -> int:
    """Classes a checkpoint's model is conditioned on, from its config.json alone (0: not conditional).
    A config without n_classes has none, which spares a fresh server the model imports on its first run."""
    if not torch_loaded() and not (config.get("config") or {}).get("n_classes"):
        return 0
    from explorer.models.registry import family_capabilities  # lazy: torch is loaded by now (checked above)

    try:
        return family_capabilities(config.get("family", ""), config.get("config") or {}).condition_classes
    except (TypeError, ValueError):
        return 0


def class_label(names: list[str] | tuple[str, ...] | None, c: int) -> str:
    """'7' or '3: cat' style label of class index c."""
    name = names[c] if names and 0 <= c < len(names) else ""
    return name if name == str(c) else (f"{c}: {name}" if name else str(c))
