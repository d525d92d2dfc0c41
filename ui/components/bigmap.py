"""The "big map" component: a million-point latent map drawn by a hand-written density raster in the page.

`big_map(...)` renders one canvas (a Streamlit components-v2 element, no iframe) with pan (drag), zoom (wheel),
hover, click, box and lasso selection and search. Points overlap into a density raster (the datashader way: each
point is binned into a canvas pixel, a pixel's colour is the mean of its points' colours by label or by a
continuous value, its strength the log of its count); once few points are in view they are drawn one by one as
dots. Why no WebGL library: measured on the project's machine (headless Chromium, software WebGL), Plotly
scattergl painted 200k points in 3.7 s and zoomed in 0.72-0.83 s (1M: 13.7 s and 2.4-2.7 s), regl-scatterplot
1.16 painted 200k in 0.8 s and redrew in 0.25-0.39 s, while a plain-JS raster took 29 ms median / 41 ms p95 a
frame at 200k and 48 / 60 ms at 1M; on a user's GPU the raster is also cheap (one pass over the points in view,
one putImageData), so it is the one loop used everywhere.

Hover decodes in the page with onnxruntime-web (the live component's copy, loaded by URL, never copied): the
hovered item's own code when the codes were sent (N*D <= `max_code_values`, float16 on the wire), otherwise the
PCA inverse of the pointer's position (mean + x*c0 + y*c1), labelled as such. The item's image from the server
(`item_image(index)`) follows on the next rerun: the page reports the hovered index (a trigger) after a short
rest, and this function puts that index's thumbnail into the element's data.

Wire format (`pack`, in explorer.map_wire with the selection arithmetic, which the notebook widget shares): `data` is ONE bytes payload (the v2 component forwards bytes as-is: a protobuf `bytes`
field in the websocket message, no base64, no JSON lists):
    b"BMAP" | uint32 LE header length | header JSON (utf-8) | zero padding to 8 | blobs, each padded to 8
The header's "blobs" maps a name to [offset from the blobs' start, byte length, dtype]. Points: "qx", "qy"
uint16 (coords quantized to 0..65535 over `bounds`), "label" uint8 (uint16 beyond 256 classes), optional
"value" uint8 (0..255 over the value's range): 5 bytes a point (6 with a value, 7 with uint16 labels). The points
(and the decoder's ONNX bytes, and the codes) go once per `data_key` / `model_key` and session; the page keeps
them in window.__bigMap, so later reruns carry only the header (a few hundred bytes + any thumbnail).

Selections are computed in the page on the quantized coords; `select_box(quantized, qbox)` / `select_lasso`
give Python the same indices (the event carries the quantized box / polygon).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import streamlit as st

from explorer.map_wire import (  # the wire format and selection arithmetic, shared with explorer.notebook
    FIRST,
    MAX_CODE_VALUES,
    data_bounds,
    dequantize,
    pack,
    point_blobs,
    quantize,
    select_box,
    select_lasso,
    unpack,
)
from ui.components.assets import NOT_INSTALLED as ASSETS_HINT
from ui.components.assets import assets_installed as installed
from ui.components.assets import component_name

COMPONENT_NAME = component_name("big_map")


@dataclass(frozen=True)
class Selection:
    """A box or lasso selection as the page reported it.

    kind: "box" | "lasso"; total: points inside; counts: per label (len = number of classes); first: the
    smallest `FIRST` indices inside, ascending; qbox: (x0, y0, x1, y1) in quantized units (inclusive) for a box,
    qpolygon: [(qx, qy), ...] for a lasso; box / polygon: the same in data units; ms: the page's compute time."""

    kind: str
    total: int
    counts: list[int]
    first: list[int]
    qbox: tuple[int, int, int, int] | None = None
    qpolygon: list[tuple[float, float]] | None = None
    box: tuple[float, float, float, float] | None = None
    polygon: list[tuple[float, float]] | None = None
    ms: float | None = None


@dataclass(frozen=True)
class BigMapEvent:
    """What the page reported. hovered: index under the pointer (None when none); clicked: the last clicked
    index; walk: the index last sent with "Send to walk" (a trigger: set only in the run it happened);
    selection: the current Selection or None; status: {"path": "wasm"|"fallback"|"pending", "reason", ...}."""

    hovered: int | None = None
    clicked: int | None = None
    walk: int | None = None
    selection: Selection | None = None
    status: dict = field(default_factory=dict)
    bounds: tuple[float, float, float, float] | None = None  # the quantization's (x0, y0, x1, y1): see quantize


@st.cache_resource(show_spinner=False)
def _renderer():
    return st.components.v2.component(COMPONENT_NAME, js="big_map.js", css="big_map.css", isolate_styles=True)


def assets_installed() -> bool:
    """Whether the component's files are installed (frontend/assets/, ui.components.assets)."""
    return installed("big_map.js")


def _decoder_bytes(decoder: bytes | str | Path) -> tuple[bytes | None, str | None]:
    if isinstance(decoder, (bytes, bytearray, memoryview)):
        return bytes(decoder), None
    text = str(decoder)
    if isinstance(decoder, str) and (text.startswith("/") and not Path(text).is_file() or "://" in text):
        return None, text
    return Path(text).read_bytes(), None


def _noop() -> None:
    pass


def _selection(raw) -> Selection | None:
    if not isinstance(raw, dict) or raw.get("kind") not in ("box", "lasso"):
        return None
    tup = lambda v: tuple(v) if v is not None else None  # noqa: E731
    return Selection(kind=raw["kind"], total=int(raw.get("total") or 0), counts=[int(c) for c in raw.get("counts") or []],
                     first=[int(i) for i in raw.get("first") or []], qbox=tup(raw.get("qbox")),
                     qpolygon=[tuple(p) for p in raw["qpolygon"]] if raw.get("qpolygon") else None,
                     box=tup(raw.get("box")), polygon=[tuple(p) for p in raw["polygon"]] if raw.get("polygon") else None,
                     ms=raw.get("ms"))


def big_map(
    key: str,
    coords: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    data_key: str,
    *,
    values: np.ndarray | None = None,
    value_name: str = "value",
    colour: str = "label",
    decoder: bytes | str | Path | None = None,
    model_key: str | None = None,
    pca_mean: np.ndarray | None = None,
    pca_components: np.ndarray | None = None,
    codes: np.ndarray | None = None,
    image_shape: tuple[int, int, int] | None = None,
    item_image: Callable[[int], bytes] | None = None,
    item_url: str | None = None,
    height: int = 600,
    width: int | None = None,
    max_code_values: int = MAX_CODE_VALUES,
) -> BigMapEvent:
    """Render the map; returns what the page reported (BigMapEvent).

    coords (N, 2) float (e.g. PCA scores), labels (N,) int in [0, len(class_names)), class_names; data_key:
    identifies this data set (the points go to the page once per data_key and session). values (N,) float:
    an optional continuous colour (ELBO, KL, percentile...), named value_name; colour: "label" or "value"
    (the page has a toggle too). Hover decoding: decoder (ONNX bytes, a file path or a same-origin URL;
    explorer.onnx.export.exported_decoder) with model_key (sent once per model_key) and image_shape (C, H, W);
    and either codes (N, D) (sent as float16 when N*D <= max_code_values: the hovered ITEM's code is decoded)
    or the PCA inverse pca_mean (D,) + pca_components (2, D) (the POINTER's position is decoded); with both,
    codes win when small enough. item_image(index) -> PNG bytes: the item's own image, shown after the hover
    rests (the next rerun); item_url: a same-origin URL prefix the page appends an index to and GETs instead
    (ui/itemserver.item_url: no rerun). height / width: the canvas size in CSS pixels (width: the element's, less the side
    panel, when None)."""
    coords = np.asarray(coords)
    n = coords.shape[0]
    if coords.shape != (n, 2):
        raise ValueError(f"coords must be (N, 2), got {coords.shape}")
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"{n} points need {n} labels, got {labels.shape[0]}")
    if values is not None and np.asarray(values).reshape(-1).shape[0] != n:
        raise ValueError(f"{n} points need {n} values")
    if not assets_installed():
        return BigMapEvent(status={"path": "fallback", "reason": "the big-map component's files are not installed "
                                   f"({ASSETS_HINT})"})

    slot = f"_big_map:{key}"
    mem: dict = st.session_state.setdefault(slot, {"data": set(), "models": set(), "need": None, "hover": None})
    header: dict = {"data_key": data_key, "class_names": [str(c) for c in class_names], "value_name": value_name,
                    "colour": colour, "height": int(height), "width": int(width) if width else None, "first": FIRST}
    blobs: dict[str, np.ndarray | bytes] = {}
    bounds = mem.get(("bounds", data_key)) or data_bounds(coords)
    mem[("bounds", data_key)] = bounds
    header["bounds"] = list(bounds)
    header["n"] = int(n)
    use_codes = codes is not None and int(np.prod(np.shape(codes))) <= max_code_values
    if data_key not in mem["data"]:
        pb, meta = point_blobs(coords, labels, values, bounds, len(class_names))
        blobs.update(pb)
        header.update(meta)
        if use_codes:
            c = np.asarray(codes, dtype=np.float16).reshape(n, -1)
            blobs["codes"] = c
            header["code_dim"] = int(c.shape[1])
        header["points"] = True
        mem["data"].add(data_key)
    header["has_codes"] = bool(use_codes)
    if decoder is not None and model_key is not None and image_shape is not None:
        header["model_key"] = model_key
        header["image_shape"] = [int(s) for s in image_shape]
        if pca_mean is not None and pca_components is not None:
            header["pca_mean"] = np.asarray(pca_mean, dtype=np.float64).reshape(-1).tolist()
            header["pca_components"] = np.asarray(pca_components, dtype=np.float64).reshape(2, -1).tolist()
        if model_key not in mem["models"]:
            raw, url = _decoder_bytes(decoder)
            if raw is not None:
                blobs["decoder"] = raw
            else:
                header["decoder_url"] = url
            mem["models"].add(model_key)
    if item_url:
        header["item_url"] = str(item_url)
    hover = mem.get("hover")
    if item_image is not None and isinstance(hover, int) and 0 <= hover < n:
        try:
            header["item_image"] = {"index": hover, "png_b64": base64.b64encode(item_image(hover)).decode("ascii")}
        except Exception as exc:  # noqa: BLE001 - a failing thumbnail must not break the map
            header["item_image"] = {"index": hover, "error": str(exc)[:200]}

    def on_hover() -> None:
        state = st.session_state.get(key) or {}
        h = state.get("hover") if hasattr(state, "get") else None
        mem["hover"] = int(h["index"]) if isinstance(h, dict) and h.get("index") is not None else None

    result = _renderer()(key=key, data=pack(header, blobs),
                         default={"selection": None, "clicked": None, "status": None, "need": None},
                         on_selection_change=_noop, on_clicked_change=_noop, on_status_change=_noop,
                         on_need_change=_noop, on_hover_change=on_hover, on_walk_change=_noop)
    need = result.get("need")
    if isinstance(need, dict) and need != mem["need"] and not blobs:
        # the page lost what it had (a reload): send the points / decoder once more
        mem["need"] = need
        if need.get("data_key") == data_key:
            mem["data"].discard(data_key)
        if need.get("model_key"):
            mem["models"].discard(need["model_key"])
        st.rerun()
    clicked = result.get("clicked")
    walk = result.get("walk")
    return BigMapEvent(
        hovered=mem.get("hover"),
        clicked=int(clicked["index"]) if isinstance(clicked, dict) and clicked.get("index") is not None else None,
        walk=int(walk["index"]) if isinstance(walk, dict) and walk.get("index") is not None else None,
        selection=_selection(result.get("selection")),
        status=result.get("status") or {},
        bounds=tuple(bounds),
    )


__all__ = ["BigMapEvent", "COMPONENT_NAME", "FIRST", "MAX_CODE_VALUES", "Selection", "assets_installed", "big_map",
           "data_bounds", "dequantize", "pack", "point_blobs", "quantize", "select_box", "select_lasso", "unpack"]
