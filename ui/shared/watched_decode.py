"""Server decodes for the pages (the spatial studio's, the map's picked item) as watched calls: a determinate bar
per decoder block within a second, a
Cancel button, latest wins (a newer request of the session cancels the older one, which stops at its next
block), at most one call per session running or waiting, first in first out across sessions (ui.services.watched
on the one inference thread), and a decode over the memory budget refused up front with the size it needs.

    image = decode_ui(model, model_key, code, "walk", st.empty())   # (C', H', W') in [0, 1], or None (cancelled)

Results are kept per model and code (a few dozen images), so a rerun that asks again gets them at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np
import streamlit as st

from explorer.cache import array_digest
from ui.services import inference, watched
from ui.services.itemserver import session_key
from ui.services.lazy import torch_side  # explorer.runtime imports torch, which the first paint must not wait for

class KeptResults:
    """Finished results of watched calls, kept for every session by request key, the least recently used dropped
    beyond `size`: a rerun that asks again gets its result at once."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            got = self._items.get(key)
            if got is not None:
                self._items.move_to_end(key)
            return got

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_DECODES = KeptResults(48)  # decoded images (all sessions): a 512 px RGB float32 image is 3 MB
_SCORES = KeptResults(64)  # finished watched scores (all sessions), by model, image digest and settings


def refused_ui(model: Any, image_hw: tuple[int, int], slot: Any, budget: Any = None) -> bool:
    """True, with the reason and the size needed in `slot` (an st.empty(), or st), when one decode at image_hw
    would not fit the memory budget (an explorer.runtime.budget.Budget; default: the free memory); else False and
    nothing drawn."""
    side = torch_side()
    try:
        watched.refuse_if_too_big(model, tuple(image_hw), budget or side.budget.Budget())
    except side.memory.MemoryRefused as e:
        slot.error(f"Not started: {e}")
        return True
    return False


def _cancel_pressed(request: tuple) -> None:
    st.session_state["_decode_cancelled"] = request
    watched.cancel(session_key(), "Cancel pressed")


def decode_work(model: Any, code: np.ndarray):
    """work(on_progress, token, job) for ui.services.watched.start: one code (its model's latent_shape, or flat)
    decoded through explorer.runtime's watched_decode, returned as a float32 (C', H', W') array."""
    def work(on_progress, token, job) -> np.ndarray:
        return torch_side().calls.watched_decode_array(model, code, on_progress=on_progress, token=token)[0]
    return work


def watched_ui(request: tuple, label: str, work: Any, slot: Any, key: str = "") -> Any | None:
    """work(on_progress, token, job) as the session's watched call, with a determinate bar (the job's stage and
    blocks, the time left) and a Cancel button drawn in `slot` (an st.empty()): its result, or None when it was
    cancelled (the slot then says so and offers to run it again) or refused by its own memory plan (the slot says
    what it needs). `request` names the call (a newer request of the session supersedes it); `label` names it on
    the page and, with `key`, keys its buttons."""
    box = slot.container()
    key = f"{label}:{key}"
    if st.session_state.get("_decode_cancelled") == request:
        box.warning(f"The {label} call was cancelled.")
        if not box.button("Run again", key=f"decode_again:{key}"):
            return None
        st.session_state.pop("_decode_cancelled", None)
    side = torch_side()
    bar = box.empty()
    bar.progress(0.0, text=f"{label}: starting")
    box.button("Cancel", key=f"decode_cancel:{key}", on_click=_cancel_pressed, args=(request,),
               help="A newer request (another image or code, a page switch) also stops this call within one block.")
    job = watched.start(session_key(), request, work)

    def show(j: watched.Job) -> None:
        p = j.progress
        if p is None:
            bar.progress(0.0, text=f"{label}: waiting for the model (another call is ahead of this one)")
        else:
            stage = f" ({j.stage})" if j.stage else ""
            bar.progress(p.fraction, text=f"{label}{stage}: {side.progress.format_progress(p)}")

    try:
        result = watched.wait(job, show)
    except side.progress.Cancelled as e:
        slot.warning(f"The {label} call stopped: {e}.")
        return None
    except side.memory.MemoryRefused as e:
        slot.error(f"Not started: {e}")
        return None
    slot.empty()
    return result


def decode_ui(model: Any, model_key: str, code: np.ndarray, label: str, slot: Any) -> np.ndarray | None:
    """The full decode (C', H', W') of one code (the model's latent_shape, or flat) as a watched call that draws
    its bar and Cancel in `slot` (an st.empty()); None when cancelled or refused (the slot says which). `label`
    names the request (and keys its Cancel button)."""
    key = (model_key, np.shape(code), array_digest(code))
    got = _DECODES.get(key)
    if got is not None:
        slot.empty()
        return got
    if refused_ui(model, tuple(int(s) for s in model.config.input_shape[-2:]), slot):
        return None
    image = watched_ui((*key, label), label, decode_work(model, code), slot)
    if image is not None:
        _DECODES.put(key, image)
    return image


def score_ui(model: Any, model_key: str, image: np.ndarray, iwae_k: int, seed: int, n_samples: int, budget: Any,
             settings: Hashable, label: str, slot: Any, key: str = "") -> Any | None:
    """ui.services.inference.score_watched of one (C, H, W) image (an explorer.runtime.budget.Budget `budget`; the
    page's `settings` behind it, hashable) as a watched call that draws its bar and Cancel in `slot` (an st.empty()),
    kept per model, image and settings: its WatchedScore, or None when refused or cancelled (the slot says which)."""
    request = (model_key, array_digest(image), tuple(image.shape), iwae_k, seed, n_samples, settings)
    result = _SCORES.get(request)
    if result is None:
        if refused_ui(model, tuple(image.shape[-2:]), slot, budget):
            return None
        result = watched_ui(request, label, lambda on_progress, token, job: inference.score_watched(
            model, model_key, image, iwae_k, seed, n_samples, budget, on_progress, token, job), slot, key)
        if result is None:
            return None
        _SCORES.put(request, result)
    return result
