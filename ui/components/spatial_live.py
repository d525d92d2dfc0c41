"""The "spatial live" component: a spatial code (C x H x W) walked along channel-space directions, previewed in the
page on every pointer event, with a region brush (frontend/src/spatial_live/).

`spatial_live(...)` sends the start code, the linear preview's weights and bias (explorer.preview.linear), the
directions (K x C) with their scales and ranges, and (after a release) the server's full decode. The page paints
tier a (the linear map, every slider or brush event) and, where `student_key` names a distilled decoder, tier b
in a Web Worker; on release it reports the values and the painted region, and the caller decodes on the server
(tier c) and passes the image back with the release's nonce. The page labels each frame's tier.

`released_state(key)` reads the latest release from the session before the element is drawn, so that the caller
can decode first (with a progress bar above the element) and send the image in the same run.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import streamlit as st

from ui.components.assets import NOT_INSTALLED as ASSETS_HINT
from ui.components.assets import assets_installed as installed
from ui.components.assets import b64, component_name

COMPONENT_NAME = component_name("spatial_live")
NOT_INSTALLED = f"the spatial-live component's files are not installed ({ASSETS_HINT})"


@dataclass(frozen=True)
class SpatialRelease:
    """A release in the page: values (K,) of the directions, the region mask (H, W) in {0, 1} (None: no region
    painted), its nonce (increasing per element) and the code_key it was made on."""

    values: np.ndarray
    mask: np.ndarray | None
    nonce: int
    code_key: str


def assets_installed() -> bool:
    """Whether the component's files are installed (frontend/assets/, ui.components.assets)."""
    return installed("spatial_live.js")


@st.cache_resource(show_spinner=False)
def _renderer():
    return st.components.v2.component(COMPONENT_NAME, js="spatial_live.js", css="spatial_live.css", isolate_styles=True)


def _noop() -> None:
    pass


def parse_release(state: dict | None, code_key: str, shape: tuple[int, int, int], k: int) -> SpatialRelease | None:
    """The element's "released" state as a SpatialRelease, or None when there is none for this code_key or it is
    malformed (a page of an older build, another code)."""
    try:
        released = state.get("released") if state is not None else None
    except AttributeError:  # not a mapping
        released = None
    if not isinstance(released, dict) or released.get("code_key") != code_key:
        return None
    values = np.asarray(released.get("values") or [], dtype=np.float64)
    if values.shape != (k,):
        return None
    _c, h, w = shape
    mask = None
    if released.get("mask_b64"):
        raw = np.frombuffer(base64.b64decode(released["mask_b64"]), dtype=np.uint8)
        if raw.size != h * w:
            return None
        mask = raw.reshape(h, w).astype(np.float64)
        if not mask.any():
            mask = None
    return SpatialRelease(values, mask, int(released.get("nonce") or 0), code_key)


def released_state(key: str, code_key: str, shape: tuple[int, int, int], k: int) -> SpatialRelease | None:
    """The latest release of element `key` in this session (read before drawing it), or None."""
    return parse_release(st.session_state.get(key), code_key, shape, k)


def page_status(key: str) -> str:
    """"live" once the page has drawn the element and said so, else "pending" (AppTest, or the first run)."""
    state = st.session_state.get(key)
    status = state.get("status") if state is not None and hasattr(state, "get") else None
    return str(status.get("path")) if isinstance(status, dict) and status.get("path") else "pending"


def image_payload(image: np.ndarray, nonce: int) -> dict:
    """The full decode (3, H', W') in [0, 1] for the page: uint8 planes, base64, with the release's nonce."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3:
        raise ValueError(f"the full decode must be (C, H, W), got {img.shape}")
    rgb = img if img.shape[0] >= 3 else np.repeat(img[:1], 3, 0)
    planes = np.round(np.clip(rgb[:3], 0.0, 1.0) * 255).astype(np.uint8)
    return {"nonce": int(nonce), "b64": b64(planes.tobytes()), "shape": [int(s) for s in planes.shape]}


def spatial_live(
    key: str,
    code: np.ndarray,
    code_key: str,
    weights: Sequence[Sequence[float]],
    bias: Sequence[float],
    directions: np.ndarray,
    scales: Sequence[float],
    labels: Sequence[str],
    ranges: Sequence[Sequence[float]],
    values: Sequence[float],
    mask: np.ndarray | None = None,
    full: dict | None = None,
    display_size: int = 256,
    brush: bool = True,
    student_key: str | None = None,
    student_b64: str | None = None,
    note: str = "",
) -> None:
    """Draw the element. code (C, H, W); code_key: identifies the code and directions (a new key resets the page's
    values and region to `values` and `mask`); weights (C x 3) and bias (3): the linear preview; directions (K, C)
    with scales (K,): code' = code + region * sum_k value_k * scale_k * direction_k; ranges (K, 2); full: an
    image_payload for the latest release (or the start code, nonce 0); student_key: names a student decoder
    (tier b; None: none), whose ONNX bytes (student_b64) are sent once per session: the page keeps them, and says
    status.student_missing = key when it lacks them."""
    c, h, w = (int(s) for s in np.shape(code))
    dirs = np.asarray(directions, dtype=np.float64).reshape(len(labels), -1)
    if dirs.shape[1] != c:
        raise ValueError(f"directions must be (K, {c}) for a {c}-channel code, got {dirs.shape}")
    if np.shape(weights) != (c, 3) or np.shape(bias) != (3,):
        raise ValueError(f"the linear preview must have weights ({c}, 3) and bias (3,), got {np.shape(weights)} "
                         f"and {np.shape(bias)}")
    r = np.asarray(ranges, dtype=np.float64).reshape(len(labels), 2)
    data = {
        "code_key": code_key, "shape": [c, h, w],
        "code_b64": b64(np.ascontiguousarray(code, dtype="<f4").tobytes()),
        "weights": np.asarray(weights, dtype=np.float64).tolist(), "bias": np.asarray(bias, dtype=np.float64).tolist(),
        "directions": dirs.tolist(), "scales": [float(s) for s in scales], "labels": [str(s) for s in labels],
        "ranges": r.tolist(), "values": [float(v) for v in values],
        "mask_b64": None if mask is None else b64((np.asarray(mask) > 0).astype(np.uint8).tobytes()),
        "full": full, "display_size": int(display_size), "brush": bool(brush), "student_key": student_key,
        "student_b64": student_b64, "note": note,
    }
    _renderer()(key=key, data=data, default={"released": None, "status": None},
                on_released_change=_noop, on_status_change=_noop)


__all__ = ["COMPONENT_NAME", "NOT_INSTALLED", "SpatialRelease", "assets_installed", "b64", "image_payload", "page_status",
           "parse_release", "released_state", "spatial_live"]
