"""What every page shares: the checkpoint list, cached models and arrays, and the session's current choice.

Models are cached once per process (`st.cache_resource`) and shared by every session, so they are only ever
used for inference; arrays go through `st.cache_data`. Per-session choices live in `st.session_state`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer.images import ImageLimits
from ui.config import MAP_LIMIT, app_config

EMBEDDED_DATASETS = ("mnist5k", "digits", "patches", "shapes")


# -- checkpoints -----------------------------------------------------------------------------------
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


# -- data sets -------------------------------------------------------------------------------------
def _load_split_uncached(name: str, options_json: str):
    """A DataSplit by name (explorer.data imports each loader lazily, so embedded sets never pull in torchvision)."""
    from explorer.data import load_dataset

    return load_dataset(name, **json.loads(options_json))


@st.cache_resource(show_spinner="Loading data set ...", max_entries=6)
def _load_split(name: str, options_json: str):
    from ui.perf import settle

    split = _load_split_uncached(name, options_json)
    settle(f"data {name} {options_json}")
    return split


def _items_path(name: str, options_json: str, limit: int) -> Path:
    import explorer

    spec = json.dumps([name, options_json, limit, explorer.__version__])
    return app_config().cache_dir / "data" / f"{name}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}.safetensors"


@st.cache_data(show_spinner="Loading test items ...", max_entries=8)
def test_items(name: str, options_json: str, limit: int = MAP_LIMIT) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The first `limit` test items of a data set: images (N, C, H, W) float32, labels (N,), class names.

    Kept on disk (safetensors) after the first load: parsing some embedded sets takes seconds.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, safe_open, save_file

    path = _items_path(name, options_json, limit)
    if path.is_file():
        try:
            arrays = load_file(str(path))
            with safe_open(str(path), "np") as fh:
                classes = json.loads((fh.metadata() or {}).get("classes", "null"))
            return arrays["images"], arrays["labels"], classes
        except (SafetensorError, OSError, KeyError, ValueError):
            pass  # torn or foreign file: load again
    from explorer.data.base import stack_images

    split = _load_split(name, options_json)
    images, labels = stack_images(split.test, limit)
    images_np = np.ascontiguousarray(images.float().numpy(), dtype=np.float32)
    labels_np = np.ascontiguousarray(labels.numpy(), dtype=np.int64)
    classes = list(split.classes) if split.classes else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file({"images": images_np, "labels": labels_np}, str(tmp), metadata={"classes": json.dumps(classes)})
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time
    return images_np, labels_np, classes


@dataclass
class DataView:
    """Test items of one data set, conformed to the current model's input shape."""

    name: str
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64, -1 for unlabelled
    classes: list[str] | None
    means: np.ndarray  # (N, D) posterior means under the current model
    from_analysis: bool  # means (and maybe maps) come from the checkpoint's analysis file
    note: str = ""

    @property
    def has_images(self) -> bool:
        return len(self.images) > 0

    def image(self, index: int):
        import torch

        return torch.from_numpy(np.array(self.images[index], dtype=np.float32))

    def label_name(self, index: int) -> str:
        lab = int(self.labels[index])
        if lab < 0:
            return "unlabelled"
        return self.classes[lab] if self.classes and lab < len(self.classes) else str(lab)


@st.cache_data(show_spinner="Preparing data set images ...", max_entries=12)
def _conformed(name: str, options_json: str, shape: tuple[int, int, int], background: tuple[float, ...], limit: int):
    import torch

    from explorer.images import conform_batch

    images, labels, classes = test_items(name, options_json, limit)
    x = conform_batch(torch.from_numpy(images), shape, np.asarray(background))
    return np.ascontiguousarray(x.numpy(), dtype=np.float32), labels, classes


@st.cache_data(show_spinner="Encoding data set ...", max_entries=12)
def _encoded(_model, model_key: str, name: str, options_json: str, shape: tuple, background: tuple, limit: int) -> np.ndarray:
    import torch

    from explorer.latent import encode_means

    images, _, _ = _conformed(name, options_json, shape, background, limit)
    return encode_means(_model, torch.from_numpy(images))


# -- the session's context -------------------------------------------------------------------------
@dataclass
class Ctx:
    """Everything a page needs about the current choice of model, device and data set.

    The model itself is loaded on first use (`ctx.model`): a fresh server paints its first page from the JSON
    files alone while torch is imported in the background (ui/warmup.py).
    """

    entry: Entry
    device: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    analysis: dict[str, np.ndarray]
    stamp: tuple
    dataset: str  # data set the map and examples draw from
    dataset_options: str  # JSON of its loader options
    limits: ImageLimits
    key: str = ""  # short id of (checkpoint, device) for widget keys and cache keys
    loaded: Any = None  # the explorer VAE once loaded (eval mode, shared by every session)

    @property
    def model(self):
        """The shared model; a load failure is shown on the page, which then stops."""
        if self.loaded is None:
            try:
                self.loaded = _load_model(self.entry.folder, self.device, self.stamp)
            except Exception as exc:  # noqa: BLE001  (a broken checkpoint must not take the app down)
                st.error(f"{self.entry.name} could not be loaded: {exc}")
                st.stop()
        return self.loaded

    @property
    def model_config(self) -> dict[str, Any]:
        return self.config.get("config") or {}

    @property
    def shape(self) -> tuple[int, int, int]:
        shape = self.model_config.get("input_shape")
        return tuple(int(s) for s in (shape if shape else self.model.config.input_shape))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.model.latent_shape)

    @property
    def latent_size(self) -> int:
        return int(math.prod(self.latent_shape))

    @property
    def own_dataset(self) -> str:
        return (self.config.get("dataset") or {}).get("name", "")

    @property
    def likelihood(self) -> str:
        return str(self.model_config.get("likelihood") or self.model.config.likelihood)

    @property
    def has_captions(self) -> bool:
        """Whether the family can caption codes: decided from the class, without loading the weights."""
        from explorer.models.registry import family_capabilities

        try:
            return family_capabilities(self.config.get("family", ""), self.model_config).captions
        except (TypeError, ValueError):
            return False

    @property
    def class_names(self) -> list[str] | None:
        names = self.model_config.get("class_names")
        return list(names) if names else (self.config.get("dataset") or {}).get("classes")

    def weights_digest(self) -> str:
        return _weights_digest(self.entry.folder, self.stamp)

    def kl_per_dim(self) -> np.ndarray:
        if "kl_per_dim" in self.analysis:
            return np.asarray(self.analysis["kl_per_dim"], dtype=np.float64).reshape(-1)
        kl = self.metrics.get("kl_per_dim")
        if kl and len(kl) == self.latent_size:
            return np.asarray(kl, dtype=np.float64)
        return np.ones(self.latent_size)

    def background(self) -> np.ndarray:
        """The colour the model's images sit on (per channel), from its own data set or its decoded prior mean."""
        return np.asarray(_background(self.model, self.key, self.own_dataset, self._own_options()), dtype=np.float32)

    def _own_options(self) -> str:
        opts = (self.config.get("dataset") or {}).get("options") or {}
        return json.dumps(opts, sort_keys=True)

    def data(self) -> DataView:
        """Test items of the chosen data set (at most MAP_LIMIT), with their posterior means."""
        bg = tuple(float(v) for v in self.background())
        means = self.analysis.get("test_means")
        try:
            images, labels, classes = _conformed(self.dataset, self.dataset_options, self.shape, bg, MAP_LIMIT)
        except Exception as exc:  # noqa: BLE001  (data not on this machine: the stored means still make a map)
            if self.dataset != self.own_dataset or means is None:
                raise
            labels = np.asarray(self.analysis.get("test_labels", np.full(len(means), -1)), dtype=np.int64)
            empty = np.zeros((0, *self.shape), dtype=np.float32)
            return DataView(self.dataset, empty, labels, self.class_names, np.asarray(means, dtype=np.float32), True,
                            f"images of {self.dataset} are not available here ({exc}); the map uses the stored means")
        if self.dataset == self.own_dataset and means is not None and len(means) == len(images):
            return DataView(self.dataset, images, labels, classes, np.asarray(means, dtype=np.float32), True)
        means = _encoded(self.model, self.key, self.dataset, self.dataset_options, self.shape, bg, MAP_LIMIT)
        note = "" if self.dataset == self.own_dataset else f"{self.dataset} images converted to the model's {self.shape} input"
        return DataView(self.dataset, images, labels, classes, means, False, note)


@st.cache_data(show_spinner=False, max_entries=16)
def _background(_model, model_key: str, dataset: str, options_json: str) -> list[float]:
    from explorer.images import estimate_background

    try:
        images, _, _ = test_items(dataset, options_json)
        return [float(v) for v in estimate_background(images[:200])]
    except Exception:  # noqa: BLE001  (no data here: fall back on what the model draws)
        from explorer.latent import decode

        zero = np.zeros((1, int(math.prod(_model.latent_shape))))
        return [float(v) for v in estimate_background(decode(_model, zero))]


def dataset_available(name: str, options_json: str = "{}") -> str | None:
    """None when the data set loads here, else the reason."""
    try:
        test_items(name, options_json)
        return None
    except Exception as exc:  # noqa: BLE001  (any loader failure is reported, never fatal)
        return f"{type(exc).__name__}: {exc}"


def get_ctx() -> Ctx | None:
    """The context the sidebar built for this run (None when no model could be loaded)."""
    return st.session_state.get("_ctx")


def require_ctx() -> Ctx:
    ctx = get_ctx()
    if ctx is None:
        st.info("Choose a model in the sidebar. A checkpoint folder goes in `pretrained/` or in a folder given "
                "with `streamlit run app.py -- --models DIR`.")
        st.stop()
    return ctx


def session_rng() -> np.random.Generator:
    """This session's own random generator (new seeds for prior draws; never the global one)."""
    if "_rng" not in st.session_state:
        st.session_state["_rng"] = np.random.default_rng()
    return st.session_state["_rng"]
