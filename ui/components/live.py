"""The "live latent" component: latent sliders whose image is decoded in the page, on every pointer move.

`live_latent(...)` renders K range inputs and a canvas (a Streamlit components-v2 element, no iframe). While a
slider is dragged, the page builds code = start + sum_k value_k * scale_k * vector_k and decodes it with
onnxruntime-web (wasm, one thread) from the model's exported decoder (explorer.onnx.export), painting the
image at the model's resolution, upscaled nearest-neighbour. Python hears of the values only on release, so
server-side things (captions, neighbours, the URL) follow the released values and never the drag.

The decoder's bytes go to the page once per model and session: with the first render of a `model_key`
(base64 in the element's data), or as a same-origin URL the page fetches once; the page keeps them, and
their session, for later reruns. When the page has no WebAssembly or cannot open the decoder, the result's
`path` is "fallback" with a `reason`, and the caller decodes on the server instead (the slider panel).

Assets: the page code (frontend/src/live_latent/), onnxruntime-web's module and its .wasm are served from
frontend/assets/, the components' one asset distribution `vae-explorer-frontend` (ui.components.assets);
scripts/setup.sh installs it, frontend/build.mjs rebuilds the files.

Pad mode (`mode="pad"`, exactly two axes): a square canvas over the plane of the two axes replaces the sliders
(ranges are the plane's (x, y) extent). Hovering or dragging over it decodes the spot in the page; the point
(x, y) comes back as `values` on release. `dots` (N, 2) are drawn on the pad (e.g. the test items' map
coordinates), sent as base64 of a float32 array once per `dots_key` and session, like the decoder.

Draw mode (`live_draw(...)`, grey-scale models): a drawing canvas (mouse, pen or touch). While drawing, the page
prepares the strokes as explorer.images.prepare_digit does (its JS twin, frontend/src/live_latent/prepare_digit.js),
encodes them with the exported encoder (the posterior mean), decodes that code and paints the reconstruction, and
marks the code on a small PCA map of the test codes ((code - mean) . components, computed in the page). On
release the raw raster comes back (`LiveDrawResult.raster`), for the server to prepare the same way and score.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import streamlit as st

from explorer.cache import array_digest
from ui.components.assets import NOT_INSTALLED as ASSETS_HINT
from ui.components.assets import assets_installed as installed
from ui.components.assets import b64, component_name

COMPONENT_NAME = component_name("live_latent")
PATHS = ("pending", "wasm", "fallback")
MODES = ("sliders", "pad", "draw")  # PATHS: where the image is decoded: not known yet, in the page, on the server


@dataclass(frozen=True)
class LiveLatentResult:
    """What the page reported.

    values: the slider values (K,) at the last release (None until the first release of this model);
    path: "pending" (the page has not said yet), "wasm" (decoding in the page) or "fallback" (it cannot:
    the caller decodes on the server); reason: why the fallback; ort: onnxruntime-web's version when known."""

    values: np.ndarray | None
    path: str
    reason: str = ""
    ort: str | None = None


@st.cache_resource(show_spinner=False)
def _renderer():
    """The component's mount function, registered once per process (the files are the installed asset dir's)."""
    return st.components.v2.component(COMPONENT_NAME, js="live_latent.js", css="live_latent.css",
                                      isolate_styles=True)


def assets_installed() -> bool:
    """Whether the component's files are installed (frontend/assets/, ui.components.assets)."""
    return installed("live_latent.js")


def _noop() -> None:
    pass


def _decoder_payload(decoder: bytes | str | Path) -> dict[str, str]:
    if isinstance(decoder, (bytes, bytearray, memoryview)):
        return {"decoder_b64": b64(bytes(decoder))}
    text = str(decoder)
    if isinstance(decoder, str) and (text.startswith("/") and not Path(text).is_file() or "://" in text):
        return {"decoder_url": text}  # a URL of the app's own origin, fetched once by the page
    return {"decoder_b64": b64(Path(text).read_bytes())}


def _ranges(ranges: Sequence[float] | Sequence[Sequence[float]] | np.ndarray, k: int) -> list[list[float]]:
    r = np.asarray(ranges, dtype=np.float64)
    if r.shape == (2,):
        r = np.repeat(r[None], k, 0)
    if r.shape != (k, 2) or not np.all(r[:, 0] < r[:, 1]):
        raise ValueError(f"ranges must be (lo, hi) or (K, 2) with lo < hi, got shape {r.shape}")
    return r.tolist()


NOT_INSTALLED = ("the live-latent component's files are not installed "
                 f"({ASSETS_HINT})")


def _sent_state(key: str) -> dict:
    """Which models' bytes (and dots) this session has sent to element `key`: the page keeps them, so later
    reruns send none. A page that lost them asks with a fresh "need" nonce and gets them once more."""
    sent: dict = st.session_state.setdefault(f"_live_latent_sent:{key}", {"models": set(), "need": None})
    sent.setdefault("dots", set())
    return sent


def _dots_payload(sent: dict, dots_key: str | None, dots_bytes: bytes | None) -> dict:
    out: dict = {}
    if dots_key is not None:
        out["dots_key"] = dots_key
        if dots_key not in sent["dots"]:
            out["dots_b64"] = b64(dots_bytes)
            sent["dots"].add(dots_key)
    return out


def _dots_bytes(dots: np.ndarray, dots_key: str | None) -> tuple[str, bytes]:
    """(key, little-endian float32 bytes) of (N, 2) points; the key defaults to a digest of them."""
    pts = np.ascontiguousarray(np.asarray(dots, dtype=np.float32).reshape(-1, 2))
    if dots_key is None:
        dots_key = array_digest(pts)
    return dots_key, pts.astype("<f4").tobytes()


def _render(key: str, data: dict) -> dict:
    return _renderer()(key=key, data=data, default={"released": None, "status": None, "need": None},
                       on_released_change=_noop, on_status_change=_noop, on_need_change=_noop)


def _answer_need(result: dict, sent: dict, model_key: str, dots_key: str | None, sent_models: bool,
                 dots_payload: dict, parts: list[str]) -> None:
    """A page that lost the bytes (of the model's `parts`, or the dots) asked for them: send them on a rerun."""
    need = result.get("need")
    if isinstance(need, dict) and need.get("model_key") == model_key and need != sent["need"]:
        if need.get("dots_key"):
            if need["dots_key"] == dots_key and "dots_b64" not in dots_payload:
                sent["need"] = need
                sent["dots"].discard(dots_key)
                st.rerun()
        elif not sent_models:
            sent["need"] = need
            for part in parts:
                sent["models"].discard(part)
            st.rerun()


def _status(result: dict, model_key: str) -> tuple[str, str, str | None]:
    status = result.get("status")
    if isinstance(status, dict) and status.get("model_key") == model_key and status.get("path") in PATHS:
        return status["path"], str(status.get("reason") or ""), status.get("ort")
    return "pending", "", None


def live_latent(
    key: str,
    decoder: bytes | str | Path,
    model_key: str,
    start_code: np.ndarray,
    vectors: np.ndarray,
    scales: np.ndarray | Sequence[float],
    labels: Sequence[str],
    values: np.ndarray | Sequence[float],
    image_shape: tuple[int, int, int],
    ranges: Sequence[float] | np.ndarray = (-4.0, 4.0),
    display_size: int = 224,
    mode: str = "sliders",
    dots: np.ndarray | None = None,
    dots_key: str | None = None,
    pad_size: int = 280,
    hidden: bool = False,
) -> LiveLatentResult:
    """Render the live sliders + canvas; returns what the page reported (see LiveLatentResult).

    key: the element's key (one per panel); decoder: the ONNX decoder of explorer.onnx.export (input "code"
    (B, D) flat float32, output "image" (B, C, H, W) in [0, 1]) as bytes, a file path, or a URL of the app's
    own origin; model_key: identifies the decoder (e.g. the weights digest): its bytes are sent once per
    model_key and session; start_code (D,); vectors (K, D) and scales (K,): code = start + sum_k v_k s_k u_k
    (explorer.latent.walk_code's Axes); labels (K,); values (K,): the values to show (pass back the released
    ones); image_shape (C, H, W) of the decoded image; ranges: (lo, hi) for every slider or (K, 2);
    display_size: the canvas width in CSS pixels; mode: "sliders" or "pad" (two axes: a 2-D pad, ranges its
    extent); dots (N, 2): points drawn on the pad, sent once per dots_key (default: a digest of them);
    pad_size: the pad's side in CSS pixels; hidden: the element loads its decoder and reports its path but shows
    nothing (while the caller's own server panel holds the controls: one set of controls at a time)."""
    start = np.asarray(start_code, dtype=np.float64).reshape(-1)
    vecs = np.asarray(vectors, dtype=np.float64).reshape(len(labels), -1)
    k, d = vecs.shape
    if d != start.size:
        raise ValueError(f"vectors are (K, {d}) but the start code has {start.size} entries")
    sc = np.asarray(scales, dtype=np.float64).reshape(-1)
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if sc.size != k or vals.size != k:
        raise ValueError(f"{k} axes need {k} scales and values, got {sc.size} and {vals.size}")

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "pad" and k != 2:
        raise ValueError(f"the pad needs exactly two axes, got {k}")
    if mode == "draw":
        raise ValueError("draw mode is live_draw(...)")
    dots_b64 = None
    if mode == "pad" and dots is not None:
        dots_key, dots_b64 = _dots_bytes(dots, dots_key)
    else:
        dots_key = None

    if not assets_installed():
        return LiveLatentResult(None, "fallback", NOT_INSTALLED)
    sent = _sent_state(key)
    payload: dict = {}
    if model_key not in sent["models"]:
        payload = _decoder_payload(decoder)
        sent["models"].add(model_key)
    dots_payload = _dots_payload(sent, dots_key, dots_b64)

    data = {
        "model_key": model_key, "start": start.tolist(), "vectors": vecs.tolist(), "scales": sc.tolist(),
        "labels": [str(s) for s in labels], "values": vals.tolist(), "ranges": _ranges(ranges, k),
        "image_shape": [int(s) for s in image_shape], "display_size": int(display_size), **payload,
        "mode": mode, "pad_size": int(pad_size), "hidden": bool(hidden), **dots_payload,
    }
    result = _render(key, data)
    _answer_need(result, sent, model_key, dots_key, bool(payload), dots_payload, [model_key])
    path, reason, ort = _status(result, model_key)
    released = result.get("released")
    out_values = None
    if isinstance(released, dict) and released.get("model_key") == model_key:
        got = np.asarray(released.get("values") or [], dtype=np.float64)
        out_values = got if got.shape == (k,) else None
    return LiveLatentResult(out_values, path, reason, ort)


def peek_path(key: str, model_key: str) -> tuple[str, str]:
    """(path, reason) element `key` last reported for `model_key` (("pending", "") when none yet), read before it
    renders, so that a caller can lay out its server panel (or none) ahead of the element."""
    state = st.session_state.get(key)
    try:
        status = state.get("status") if hasattr(state, "get") else getattr(state, "status", None)
    except Exception:  # noqa: BLE001  (the element's state before its first render)
        return "pending", ""
    path, reason, _ = _status({"status": status}, model_key)
    return path, reason


@dataclass(frozen=True)
class LiveDrawResult:
    """What the drawing canvas reported.

    raster: (S, S) uint8 ink (white strokes on black) at the last release, None before the first; strokes: how
    many strokes it holds (0 after Clear); release: a number that changes with every release; path / reason /
    ort: as LiveLatentResult's ("wasm": the page encodes and reconstructs while you draw)."""

    raster: np.ndarray | None
    strokes: int
    release: int | None
    path: str
    reason: str = ""
    ort: str | None = None


def live_draw(
    key: str,
    decoder: bytes | str | Path,
    encoder: bytes | str | Path,
    model_key: str,
    image_shape: tuple[int, int, int],
    pca_mean: np.ndarray,
    pca_components: np.ndarray,
    dots: np.ndarray,
    ranges: Sequence[Sequence[float]],
    dots_key: str | None = None,
    draw_size: int = 196,
    brush: int | None = None,
    map_size: int = 196,
    display_size: int = 196,
) -> LiveDrawResult:
    """Render the drawing canvas, the in-page reconstruction and the PCA map; returns what the page reported.

    decoder / encoder: the model's ONNX decoder (code (B, D) -> image (B, C, H, W)) and encoder (image -> code
    (B, D), the posterior mean) of explorer.onnx.export, as bytes, a file path or a same-origin URL, each sent once
    per model_key and session; image_shape (1, H, W): grey-scale only; pca_mean (D,), pca_components (2, D): the
    map's projection (x, y) = (code - mean) . components; dots (N, 2): the test codes on that map, sent once per
    dots_key; ranges [[xlo, xhi], [ylo, yhi]]: the map's extent; draw_size: the canvas side in pixels (one canvas
    pixel per CSS pixel); brush: the stroke width (default: draw_size / 12, about MNIST's pen at 20 px)."""
    c, h, w = (int(v) for v in image_shape)
    if c != 1:
        raise ValueError(f"drawing is for grey-scale models, this one has {c} channels")
    mean = np.asarray(pca_mean, dtype=np.float64).reshape(-1)
    comps = np.asarray(pca_components, dtype=np.float64).reshape(2, -1)
    if comps.shape[1] != mean.size:
        raise ValueError(f"pca_components are {comps.shape} but the mean has {mean.size} entries")
    if not assets_installed():
        return LiveDrawResult(None, 0, None, "fallback", NOT_INSTALLED)
    dots_key, dots_bytes = _dots_bytes(dots, dots_key)
    sent = _sent_state(key)
    enc_key = f"{model_key}#encoder"
    payload: dict = {}
    if model_key not in sent["models"] or enc_key not in sent["models"]:
        payload = {**_decoder_payload(decoder),
                   **{k.replace("decoder", "encoder"): v for k, v in _decoder_payload(encoder).items()}}
        sent["models"].update((model_key, enc_key))
    dots_payload = _dots_payload(sent, dots_key, dots_bytes)
    data = {
        "mode": "draw", "model_key": model_key, "image_shape": [c, h, w], "display_size": int(display_size),
        "draw_size": int(draw_size), "brush": float(brush or max(2, round(draw_size / 12))),
        "map_size": int(map_size), "pca_mean": mean.tolist(), "pca_components": comps.tolist(),
        "ranges": _ranges(ranges, 2), "labels": ["PCA 1", "PCA 2"], **payload, **dots_payload,
    }
    result = _render(key, data)
    _answer_need(result, sent, model_key, dots_key, bool(payload), dots_payload, [model_key, enc_key])
    path, reason, ort = _status(result, model_key)
    released = result.get("released")
    raster, strokes, release = None, 0, None
    if isinstance(released, dict) and released.get("model_key") == model_key and released.get("raster_b64"):
        side = int(released.get("side") or 0)
        raw = np.frombuffer(base64.b64decode(released["raster_b64"]), dtype=np.uint8)
        if side > 0 and raw.size == side * side:
            raster = raw.reshape(side, side)
            strokes, release = int(released.get("strokes") or 0), int(released.get("nonce") or 0)
    return LiveDrawResult(raster, strokes, release, path, reason, ort)


__all__ = ["COMPONENT_NAME", "LiveDrawResult", "LiveLatentResult", "MODES", "PATHS", "assets_installed", "live_draw",
           "live_latent"]
