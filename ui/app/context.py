"""The session's context: the current choice of checkpoint, device and data set, as every page reads it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from explorer.images import ImageLimits
from ui.app.catalogue import Entry, folder_digest, load_model
from ui.app.config import BATCH_MEMORY_GB, DATA_BUDGET_S, MAP_LIMIT
from ui.app.dataviews import TIMED_ITEMS, DataItems, DataView, background, conformed, encode_plan, encoded
from ui.services.lazy import torch_side


@dataclass
class Ctx:
    """Everything a page needs about the current choice of model, device and data set.

    The model itself is loaded on first use (`ctx.model`): a fresh server paints its first page from the JSON
    files alone while torch is imported in the background (ui/app/warmup.py).
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
    analysis_dataset: str = ""  # the data set whose test items `analysis` and `metrics` score (own or evaluated)
    condition: int | None = None  # conditional models: the sidebar's class, the default of every model call

    def __post_init__(self) -> None:
        self._view = None

    @property
    def model(self):
        """The shared model; a load failure is shown on the page, which then stops. A conditional model comes
        as a view under the sidebar's class (`condition`): pages that pass no class get that one, and an
        explicit `condition=` still wins (explorer.models.blocks.conditioning)."""
        base = self.base_model
        if self.condition is None or not base.capabilities().condition_classes:
            return base
        if self._view is None:
            with_default_condition = torch_side().conditioning.with_default_condition

            self._view = with_default_condition(base, self.condition)
        return self._view

    def declared_capabilities(self):
        """What the family declares for this config, from config.json alone without the weights (None when the
        config cannot be read)."""
        try:
            return torch_side().registry.family_capabilities(self.config.get("family", ""), self.model_config)
        except (TypeError, ValueError):
            return None

    @property
    def condition_classes(self) -> int:
        """How many classes the model is conditioned on (0: not conditional), known without the weights."""
        declared = self.declared_capabilities()
        return declared.condition_classes if declared else 0

    @property
    def base_model(self):
        """The loaded model itself (for a conditional model: no default class)."""
        if self.loaded is None:
            try:
                self.loaded = load_model(self.entry.folder, self.device, self.stamp)
            except Exception as exc:  # noqa: BLE001  (a broken checkpoint must not take the app down)
                st.error(f"{self.entry.name} could not be loaded: {exc}")
                st.stop()
        return self.loaded

    @property
    def code_kind(self) -> str:
        """The kind of code the model declares: "vector", "spatial" or "discrete" (Capabilities.code_kind)."""
        return self.model.capabilities().code_kind

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
        declared = self.declared_capabilities()
        return bool(declared and declared.captions)

    @property
    def class_names(self) -> list[str] | None:
        names = self.model_config.get("class_names")
        return list(names) if names else (self.config.get("dataset") or {}).get("classes")

    def weights_digest(self) -> str:
        return folder_digest(self.entry.folder, self.stamp)

    def has_kl_per_dim(self) -> bool:
        """Whether the checkpoint stores its mean KL per code dimension (a model trained elsewhere may not)."""
        kl = self.metrics.get("kl_per_dim")
        return "kl_per_dim" in self.analysis or bool(kl and len(kl) == self.latent_size)

    def kl_per_dim(self) -> np.ndarray:
        """Mean KL per code dimension (D,) from the analysis file or metrics.json; ones when neither has it."""
        if "kl_per_dim" in self.analysis:
            return np.asarray(self.analysis["kl_per_dim"], dtype=np.float64).reshape(-1)
        kl = self.metrics.get("kl_per_dim")
        if kl and len(kl) == self.latent_size:
            return np.asarray(kl, dtype=np.float64)
        return np.ones(self.latent_size)

    def background(self) -> np.ndarray:
        """The colour the model's images sit on (per channel), from its own data set or its decoded prior mean."""
        return np.asarray(background(self.model, self.key, self.own_dataset, self._own_options()), dtype=np.float32)

    def _own_options(self) -> str:
        opts = (self.config.get("dataset") or {}).get("options") or {}
        return json.dumps(opts, sort_keys=True)

    def first_item_image(self, index: int) -> np.ndarray | None:
        """Test item `index`'s image (C, H, W), conformed as data() conforms it, without encoding anything: for a page
        to show the picture it starts from while data() encodes the data set (seconds an item for a Stable-Diffusion-
        sized encoder). None past the first TIMED_ITEMS items (the ones data() conforms first anyway) or where the
        data set's images are not here."""
        if not 0 <= index < TIMED_ITEMS:
            return None
        try:
            images, _, _ = conformed(self.dataset, self.dataset_options, self.shape, self._background_key(), TIMED_ITEMS)
        except Exception:  # noqa: BLE001  (data not on this machine: data() says why)
            return None
        return images[index] if index < len(images) else None

    def _background_key(self) -> tuple[float, ...]:
        """background() as the hashable tuple the data set caches are keyed by."""
        return tuple(float(v) for v in self.background())

    def _stored_means(self) -> np.ndarray | None:
        """The posterior means the checkpoint stores for the chosen data set's test items, or None (another data set,
        or none stored)."""
        means = self.analysis.get("test_means")
        return None if self.dataset != self.analysis_dataset or means is None else np.asarray(means, dtype=np.float32)

    def _planned_items(self, bg: tuple[float, ...]) -> tuple[DataItems, int, int, str]:
        """(the items data() encodes, how many it asked for, the batch to encode them in, what the budget cut);
        raises where the images are not on this machine. Only the plan's one timed encode runs a model (none where
        the checkpoint stores the means)."""
        items, batch, cut = MAP_LIMIT, 256, ""
        if self._stored_means() is None:
            # sized to a time budget: a Stable-Diffusion-sized encoder must not encode 2000 items first
            seconds = float(st.session_state.get("data_budget_s", DATA_BUDGET_S))
            batch_gb = float(st.session_state.get("batch_memory_gb", BATCH_MEMORY_GB))
            items, batch, cut = encode_plan(self.model, self.key, self.dataset, self.dataset_options, self.shape,
                                            bg, MAP_LIMIT, seconds, batch_gb)
        images, labels, classes = conformed(self.dataset, self.dataset_options, self.shape, bg, items)
        return DataItems(self.dataset, images, labels, classes), items, batch, cut

    def _stored_only(self, exc: Exception) -> DataView:
        """The view of a data set whose images are not here but whose means the checkpoint stores (re-raises `exc`
        where it stores none)."""
        means = self._stored_means()
        if means is None:
            raise exc
        labels = np.asarray(self.analysis.get("test_labels", np.full(len(means), -1)), dtype=np.int64)
        empty = np.zeros((0, *self.shape), dtype=np.float32)
        return DataView(self.dataset, empty, labels, self.class_names, means, True,
                        f"images of {self.dataset} are not available here ({exc}); the map uses the stored means")

    def data_items(self) -> DataItems:
        """The test items data() gives, without encoding them: for a page that shows or picks items (the picker, the
        start of a walk, Reconstruct's test item), which a Stable-Diffusion-sized encoder would otherwise keep waiting
        for seconds an item. No images (has_images False) where they are not on this machine."""
        try:
            return self._planned_items(self._background_key())[0]
        except Exception as exc:  # noqa: BLE001  (data not on this machine: data() says why)
            return self._stored_only(exc)

    def data(self) -> DataView:
        """Test items of the chosen data set (at most MAP_LIMIT), with their posterior means."""
        bg = self._background_key()
        try:
            found, items, batch, cut = self._planned_items(bg)
        except Exception as exc:  # noqa: BLE001  (data not on this machine: the stored means still make a map)
            return self._stored_only(exc)
        images, labels, classes = found.images, found.labels, found.classes
        stored = self._stored_means()
        if stored is not None and len(stored) == len(images):
            return DataView(self.dataset, images, labels, classes, stored, True)
        means = encoded(self.model, self.key, self.dataset, self.dataset_options, self.shape, bg, items, batch)
        notes = [] if self.dataset in (self.own_dataset, self.analysis_dataset) else [f"{self.dataset} images converted to the model's {self.shape} input"]
        if cut:
            notes.append(f"{cut} (the sidebar's data budget raises it)")
        return DataView(self.dataset, images, labels, classes, means, False, "; ".join(notes))


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
