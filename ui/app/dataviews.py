"""Data sets as pages see them: cached test items, conformed to a model's input, with the codes it gives them.

Encoding runs on the inference thread (ui/services/inference.py); arrays are cached with `st.cache_data`, keyed by the
model's short key (the model itself is not hashed).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

import explorer
from explorer.files import atomic_save_safetensors
from explorer.images import conform_batch, estimate_background
from ui.app.config import MAP_LIMIT, app_config
from ui.app.perf import settle
from ui.services import inference
from ui.services.lazy import torch_side

EMBEDDED_DATASETS = ("mnist5k", "digits", "patches", "shapes", "photos")  # explorer.data.EMBEDDED (which imports torch)
# their images' (C, H, W) with default options (explorer/data/embedded.py, shapes.py): which fit a model as they are
EMBEDDED_SHAPES = {"mnist5k": (1, 28, 28), "digits": (1, 8, 8), "patches": (3, 32, 32), "shapes": (3, 32, 32),
                   "photos": (3, 64, 64)}


def fitting_first(names: list[str], shape: tuple[int, ...]) -> list[str]:
    """The embedded data sets `names`, those whose images have the model's input shape (C, H, W) first, then those
    with its channels, then the rest (the order kept within each): the sidebar offers the ones that fit by default."""
    shape = tuple(int(v) for v in shape)

    def rank(name: str) -> int:
        own = EMBEDDED_SHAPES.get(name)
        if not shape or own is None:
            return 0  # the shape is unknown: keep the usual order
        return 0 if own == shape else 1 if own[0] == shape[0] else 2

    return sorted(names, key=rank)
TIMED_ITEMS = 2  # items encoded (after one untimed) to size a data set's encoding to the time budget


def _load_split_uncached(name: str, options_json: str):
    """A DataSplit by name (explorer.data imports each loader lazily, so embedded sets never pull in torchvision)."""
    load_dataset = torch_side().data.load_dataset

    options = json.loads(options_json)
    root = app_config().data_root  # --data-root: where folder-based sets keep their images, unless the options say
    if root is not None and options.get("root") is None:
        options["root"] = str(root)
    return load_dataset(name, **options)


@st.cache_resource(show_spinner="Loading data set ...", max_entries=6)
def load_split(name: str, options_json: str):
    split = _load_split_uncached(name, options_json)
    settle(f"data {name} {options_json}")
    return split


def _items_path(name: str, options_json: str, limit: int) -> Path:
    root = app_config().data_root
    spec = json.dumps([name, options_json, limit, explorer.__version__, "attributes"]  # files since the table
                      + ([str(root.resolve())] if root is not None else []))
    return app_config().cache_dir / "data" / f"{name}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}.safetensors"


@st.cache_data(show_spinner="Loading test items ...", max_entries=8)
def test_items(name: str, options_json: str, limit: int = MAP_LIMIT) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The first `limit` test items of a data set: images (N, C, H, W) float32, labels (N,), class names.

    Kept on disk (safetensors) after the first load: parsing some embedded sets takes seconds.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, safe_open

    path = _items_path(name, options_json, limit)
    if path.is_file():
        try:
            arrays = load_file(str(path))
            with safe_open(str(path), "np") as fh:
                classes = json.loads((fh.metadata() or {}).get("classes", "null"))
            return arrays["images"], arrays["labels"], classes
        except (SafetensorError, OSError, KeyError, ValueError):
            pass  # torn or foreign file: load again
    images_np, labels_np, classes, table = _items_from_split(name, options_json, limit)
    try:
        arrays = {"images": images_np, "labels": labels_np}
        meta = {"classes": json.dumps(classes)}
        if table is not None:  # CelebA's 40 attributes ride along (test_attributes reads them back)
            arrays["attributes"], meta["attribute_names"] = table[0], json.dumps(table[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_safetensors(arrays, path, meta)
    except OSError:
        pass  # a read-only cache only costs time
    return images_np, labels_np, classes


def _items_from_split(name: str, options_json: str, limit: int):
    """(images, labels, classes, (attributes (N, A) uint8, names) or None) of the first `limit` test items."""
    attribute_table = torch_side().encode_dataset.attribute_table
    stack_images = torch_side().data_base.stack_images

    split = load_split(name, options_json)
    images, labels = stack_images(split.test, limit)
    images_np = np.ascontiguousarray(images.float().numpy(), dtype=np.float32)
    labels_np = np.ascontiguousarray(labels.numpy(), dtype=np.int64)
    classes = list(split.classes) if split.classes else None
    table = attribute_table(split.test)
    if table is not None:
        table = (np.ascontiguousarray(table[0][: len(images_np)].numpy(), dtype=np.uint8), table[1])
    return images_np, labels_np, classes, table


@st.cache_data(show_spinner=False, max_entries=8)
def test_attributes(name: str, options_json: str, limit: int = MAP_LIMIT) -> tuple[np.ndarray, list[str]] | None:
    """The attribute table of the first `limit` test items, as test_items has them: (attributes (N, A) uint8
    0/1, names), e.g. CelebA's 40; None for a data set without one (every embedded set)."""
    from safetensors import SafetensorError
    from safetensors.numpy import safe_open

    test_items(name, options_json, limit)  # writes the items file on first use
    path = _items_path(name, options_json, limit)
    try:
        with safe_open(str(path), "np") as fh:
            names = json.loads((fh.metadata() or {}).get("attribute_names", "null"))
            return (fh.get_tensor("attributes"), list(names)) if names else None
    except (SafetensorError, OSError, ValueError):
        return _items_from_split(name, options_json, limit)[3]  # no cache file (read-only cache folder)


@dataclass
class DataItems:
    """Test items of one data set, conformed to the current model's input shape: what a page needs to show and pick
    items, with no encoding of the data set (Ctx.data_items)."""

    name: str
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64, -1 for unlabelled
    classes: list[str] | None

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


@dataclass
class DataView(DataItems):
    """The items with their posterior means under the current model (Ctx.data)."""

    means: np.ndarray  # (N, D) posterior means under the current model
    from_analysis: bool  # means (and maybe maps) come from the checkpoint's analysis file
    note: str = ""


@st.cache_data(show_spinner="Preparing data set images ...", max_entries=12)
def conformed(name: str, options_json: str, shape: tuple[int, int, int], background: tuple[float, ...], limit: int):
    import torch


    images, labels, classes = test_items(name, options_json, limit)
    x = conform_batch(torch.from_numpy(images), shape, np.asarray(background))
    return np.ascontiguousarray(x.numpy(), dtype=np.float32), labels, classes


@st.cache_data(show_spinner="Encoding data set ...", max_entries=12)
def encoded(_model, model_key: str, name: str, options_json: str, shape: tuple, background: tuple, limit: int,
            batch_size: int = 256) -> np.ndarray:
    images, _, _ = conformed(name, options_json, shape, background, limit)
    return inference.encode_codes(_model, images, batch_size=batch_size)


@st.cache_data(show_spinner="Timing one encode to size the data set to the budget ...", max_entries=16)
def encode_plan(_model, model_key: str, name: str, options_json: str, shape: tuple, background: tuple, limit: int,
                seconds: float, batch_gb: float = 1.0) -> tuple[int, int, str]:
    """(items, batch, note) of a data set's encoding under a time budget of `seconds`, the memory free now and
    batches of at most batch_gb GB
    (explorer.runtime.budget.plan_encode, from one timed encode): a Stable-Diffusion-sized encoder gets a few
    items, a small model all `limit`. The note says what was cut, for the page."""
    import time

    images, _, _ = conformed(name, options_json, shape, background, TIMED_ITEMS)
    start = time.perf_counter()
    first = inference.encode_codes(_model, images[:1])  # first call at this shape: allocator and kernel set-up included
    per_item = time.perf_counter() - start
    _keep_timed_code(model_key, images[0], first[0])
    if per_item < seconds / 8:  # a small model: time TIMED_ITEMS more without the set-up
        start = time.perf_counter()
        inference.encode_codes(_model, images)
        per_item = (time.perf_counter() - start) / len(images)
    # else a big encoder: the first call's time (an over-estimate by its set-up) sizes the plan, and no second call
    # delays the page's first content (an SD-sized encode at 256 px takes seconds an image)
    side = torch_side()
    budget = side.budget.Budget(seconds=float(seconds), batch_bytes=int(batch_gb * 2**30))
    plan = inference.run(side.budget.plan_encode, _model, limit, per_item, budget, tuple(shape[1:]), str(_model.device))
    return plan.items, plan.batch, "; ".join(plan.notes)


# encode_plan's timed encode is of the data set's first item, where a walk starts: its code is kept here for
# encode_one (ui/shared/widgets.py) rather than encoded again, seconds for a Stable-Diffusion-sized encoder. The
# timing itself always comes from a real encode: a cached code passed off as one would size the plan as if the
# encoder were fast. (model key, image (C, H, W), code (D,)), the newest last.
_TIMED_CODES: deque[tuple[str, np.ndarray, np.ndarray]] = deque(maxlen=8)
_TIMED_LOCK = threading.Lock()


def _keep_timed_code(model_key: str, image: np.ndarray, code: np.ndarray) -> None:
    with _TIMED_LOCK:
        _TIMED_CODES.append((model_key, image, code))


def timed_code(model_key: str, image: np.ndarray) -> np.ndarray | None:
    """The code (D,) that encode_plan's timed encode gave for this very image (C, H, W) under `model_key`, or None."""
    with _TIMED_LOCK:
        for key, kept, code in reversed(_TIMED_CODES):
            if key == model_key and kept.shape == image.shape and np.array_equal(kept, image):
                return code.copy()
    return None


@st.cache_data(show_spinner=False, max_entries=16)
def background(_model, model_key: str, dataset: str, options_json: str) -> list[float]:
    try:
        images, _, _ = test_items(dataset, options_json)
        return [float(v) for v in estimate_background(images[:200])]
    except Exception:  # noqa: BLE001  (no data here: fall back on what the model draws)
        return [float(v) for v in estimate_background(inference.decode_zero_code(_model))]


def dataset_available(name: str, options_json: str = "{}") -> str | None:
    """None when the data set loads here, else the reason."""
    try:
        test_items(name, options_json)
        return None
    except Exception as exc:  # noqa: BLE001  (any loader failure is reported, never fatal)
        return f"{type(exc).__name__}: {exc}"


