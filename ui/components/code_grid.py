"""The "code grid" component: an image's grid of code indices drawn over its decode, edited and decoded in the page.

`code_grid(...)` sends the start grid (every level's, flattened), the level to edit, the code a click paints, the item
itself, and (once per model and session) the model's decode from indices as ONNX (explorer.onnx.discrete's
IndexImageGraph: flat int64 indices in, the image in [0, 1] out). A click on a cell sets it to the picked code; the
page decodes the edited grid with onnxruntime-web (wasm; in a Web Worker, or for a decoder of a millisecond or two
async on the page's thread, `decode_in`) and paints it (frontend/src/code_grid/). The
edited grid comes back a quarter second after the last click, so that the server side (the link, the download, the
walk along the code's neighbours) follows; `CodeGridResult.path` says whether the page decodes ("wasm"), cannot
("fallback": the caller decodes on the server) or has not said yet ("pending").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import streamlit as st

from ui.components.assets import NOT_INSTALLED as ASSETS_HINT
from ui.components.assets import assets_installed as installed
from ui.components.assets import b64, component_name

if TYPE_CHECKING:  # only its fields are read (name, grid, stride, codebook_size): a page of this element imports no torch
    from explorer.models.base import CodeLevel

COMPONENT_NAME = component_name("code_grid")
NOT_INSTALLED = f"the code-grid component's files are not installed ({ASSETS_HINT})"
PATHS = ("pending", "wasm", "fallback")
DECODE_IN = ("worker", "main")


@dataclass(frozen=True)
class CodeGridResult:
    """What the page reported: grids, the edited grid per level (each (h, w) int64), None until the first edit of
    this grid_key; cell (row, col) last clicked (None: none yet); path "pending", "wasm" or "fallback"; reason: why
    the fallback."""

    grids: list[np.ndarray] | None
    cell: tuple[int, int] | None
    path: str
    reason: str = ""


def assets_installed() -> bool:
    """Whether the component's files are installed (frontend/assets/, ui.components.assets)."""
    return installed("code_grid.js")


@st.cache_resource(show_spinner=False)
def _renderer():
    return st.components.v2.component(COMPONENT_NAME, js="code_grid.js", css="code_grid.css", isolate_styles=True)


def _noop() -> None:
    pass


def parse_edited(state: dict | None, grid_key: str, levels: Sequence[CodeLevel]) -> tuple[list[np.ndarray] | None,
                                                                                          tuple[int, int] | None]:
    """(grids per level (h, w) int64, last clicked cell) of the element's "edited" state for grid_key; (None, None)
    when there is none for it or it is malformed (a page of an older build, another grid). Codes are not trusted:
    one outside its level's codebook makes the whole report None."""
    try:
        edited = state.get("edited") if state is not None else None
    except AttributeError:
        edited = None
    if not isinstance(edited, dict) or edited.get("grid_key") != grid_key:
        return None, None
    raw = edited.get("grids")
    if not isinstance(raw, list) or len(raw) != len(levels):
        return None, None
    grids = []
    for values, level in zip(raw, levels):
        try:
            arr = np.asarray(values if isinstance(values, list) else [], dtype=np.int64)
        except (TypeError, ValueError, OverflowError):  # not whole numbers
            return None, None
        if arr.size != level.grid[0] * level.grid[1] or arr.min() < 0 or arr.max() >= level.codebook_size:
            return None, None
        grids.append(arr.reshape(level.grid))
    cell = edited.get("cell")
    ok = isinstance(cell, list) and len(cell) == 2 and all(isinstance(v, int) for v in cell)
    return grids, (int(cell[0]), int(cell[1])) if ok else None


def _status(state, model_key: str) -> tuple[str, str]:
    try:
        status = state.get("status") if state is not None else None
    except AttributeError:
        status = None
    if isinstance(status, dict) and status.get("path") in ("wasm", "fallback") and status.get("model_key", model_key) == model_key:
        return status["path"], str(status.get("reason") or "")
    return "pending", ""


def peek(key: str, grid_key: str, model_key: str, levels: Sequence[CodeLevel]) -> CodeGridResult:
    """The element's latest report in this session (read before it is drawn, so that the caller lays out the page
    for the path it reported)."""
    state = st.session_state.get(key)
    grids, cell = parse_edited(state, grid_key, levels)
    path, reason = _status(state, model_key)
    return CodeGridResult(grids, cell, path, reason)


def image_planes(image: np.ndarray) -> tuple[str, list[int]]:
    """An image (C, H, W) in [0, 1] as base64 uint8 RGB planes (3, H, W) (grey repeated), and that shape."""
    img = np.asarray(image, dtype=np.float32)
    rgb = img if img.shape[0] >= 3 else np.repeat(img[:1], 3, 0)
    planes = np.round(np.clip(rgb[:3], 0.0, 1.0) * 255).astype(np.uint8)
    return b64(planes.tobytes()), [int(s) for s in planes.shape]


def code_grid(key: str, decoder: bytes | str | Path, model_key: str, levels: Sequence[CodeLevel],
              grids: Sequence[np.ndarray], active: int, code: int, image: np.ndarray, grid_key: str,
              display_size: int = 280, caption: str = "", hidden: bool = False,
              decode_in: str = "worker") -> CodeGridResult:
    """Draw the element; returns what the page reported. decoder: the decode from indices as ONNX (bytes or a
    file), its bytes sent once per model_key and session (the page keeps them; a page that lost them asks again);
    levels and grids: every level's CodeLevel and start grid (h, w); active: the level a click edits; code: the code
    a click paints (the panel's choice; the page's own picker starts there); image (C, H, W) in [0, 1]: the item,
    shown beside; grid_key: names the start grid (a new key resets the page's edits); hidden: load out of sight
    (while the server's editor holds the page, until the page says it decodes); decode_in: "worker" (a Web Worker)
    or "main" (onnxruntime-web's async run on the page's thread: no hop to a worker, for a decoder of a millisecond
    or two)."""
    if decode_in not in DECODE_IN:
        raise ValueError(f"decode_in must be one of {DECODE_IN}, got {decode_in!r}")
    if len(grids) != len(levels):
        raise ValueError(f"{len(levels)} levels need {len(levels)} grids, got {len(grids)}")
    flat = []
    for grid, level in zip(grids, levels):
        arr = np.asarray(grid, dtype=np.int64)
        if arr.shape != tuple(level.grid):
            raise ValueError(f"level {level.name!r} has a {level.grid[0]} x {level.grid[1]} grid, got {arr.shape}")
        flat += arr.reshape(-1).tolist()
    sent: set = st.session_state.setdefault(f"_code_grid_sent:{key}", set())
    state = st.session_state.get(key)
    try:
        status = state.get("status") if state is not None else None
    except AttributeError:
        status = None
    if isinstance(status, dict) and status.get("need") == model_key:  # a reloaded page lost the bytes
        sent.discard(model_key)
    image_b64, shape = image_planes(image)
    data = {
        "grid_key": grid_key, "model_key": model_key, "active": int(active), "code": int(code), "base": flat,
        "levels": [{"name": lv.name, "grid": list(lv.grid), "stride": lv.stride, "codebook_size": lv.codebook_size}
                   for lv in levels],
        "image_b64": image_b64, "image_shape": shape, "display_size": int(display_size), "caption": caption,
        "hidden": bool(hidden), "decode_in": decode_in,
    }
    if model_key not in sent:
        data["decoder_b64"] = b64(decoder if isinstance(decoder, bytes) else Path(decoder).read_bytes())
        sent.add(model_key)
    result = _renderer()(key=key, data=data, default={"edited": None, "status": None},
                         on_edited_change=_noop, on_status_change=_noop)
    grids_back, cell = parse_edited(result, grid_key, levels)
    path, reason = _status(result, model_key)
    return CodeGridResult(grids_back, cell, path, reason)


__all__ = ["COMPONENT_NAME", "CodeGridResult", "NOT_INSTALLED", "PATHS", "assets_installed", "code_grid",
           "image_planes", "parse_edited", "peek"]
