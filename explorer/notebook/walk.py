"""LatentWalk: the live-latent sliders as a notebook widget (an anywidget), decoded in the page while dragging.

The page code is the Streamlit component's (frontend/src/live_latent/) on the notebook host
(frontend/src/hosts/anywidget.js), built by frontend/build.mjs into one ESM, live_latent_widget.js. The synced
`data` trait holds what the component draws (start, axes, values: small); the bytes the page needs (onnxruntime-web's
module and .wasm, the model's ONNX decoder from explorer.onnx.export) go as custom-message buffers when the page
asks for them (explorer.notebook.parts), so a saved notebook keeps none of them and a second widget on the page asks
for no second runtime.

Python hears of the values on release: `.code` (a numpy array of the model's latent shape) follows them, and
`.on_change(fn)` (or traitlets' `observe(fn, names="code")`) runs then. Setting `.code` moves the sliders to it
(its part off the axes moves the start) and the page repaints.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import traitlets

from explorer.cache import default_cache_dir
from explorer.images import to_png, to_uint8
from explorer.latent import Axes, dim_label, walk_code
from explorer.models.base import VAE
from explorer.notebook.models import decoder_bytes, resolve_model
from explorer.notebook.parts import ORT_PARTS, PartsWidget
from explorer.onnx.export import FRAME_BUDGET_S, WASM_SLOWDOWN
from explorer.runtime.budget import decode_seconds

ESM = "live_latent_widget.js"
CSS = "live_latent.css"
DEFAULT_AXES = 8  # without axes: the first this many latent dimensions
DECODE_IN = ("auto", "page", "kernel")


def page_reason(model: VAE, decode_in: str) -> str:
    """"" when the page decodes frames itself, else why the kernel decodes on release instead: asked for
    (decode_in="kernel"), or, with "auto", a frame would take over FRAME_BUDGET_S in the page (the model's decode
    timed cheaply here, explorer.runtime.budget.decode_seconds, times WASM_SLOWDOWN): an SD-sized decoder at 512 px,
    whose ONNX file (about 200 MB) would otherwise be exported and sent for frames of many seconds."""
    if decode_in not in DECODE_IN:
        raise ValueError(f"decode_in: {decode_in!r}; accepted: {', '.join(map(repr, DECODE_IN))}")
    if decode_in == "kernel":
        return "asked for with decode_in='kernel'"
    if decode_in == "page":
        return ""
    seconds = decode_seconds(model) * WASM_SLOWDOWN
    if seconds <= FRAME_BUDGET_S:
        return ""
    return f"a frame would take about {seconds:.1f} s in the page, over {FRAME_BUDGET_S * 1000:.0f} ms"


def default_axes(latent_shape: Sequence[int], k: int = DEFAULT_AXES) -> Axes:
    """The first k raw latent dimensions, one prior sigma (1) per slider unit."""
    d = int(np.prod(latent_shape))
    k = min(k, d)
    vectors = np.eye(k, d)  # (K, D) one-hot rows
    return Axes(vectors, np.ones(k), [dim_label(i, tuple(latent_shape)) for i in range(k)], np.zeros(k, bool), "dims")


def as_axes(axes: Axes | np.ndarray | None, latent_shape: Sequence[int]) -> Axes:
    """An Axes from None (default_axes), an Axes, or an array (K, D) of directions (scale 1 each)."""
    if axes is None:
        return default_axes(latent_shape)
    if isinstance(axes, Axes):
        return axes
    d = int(np.prod(latent_shape))
    vectors = np.asarray(axes, dtype=np.float64)
    if vectors.ndim == 1:
        vectors = vectors[None]
    vectors = vectors.reshape(len(vectors), -1)
    if vectors.shape[1] != d:
        raise ValueError(f"axes must be an explorer.latent.Axes or an array (K, {d}) of directions in the model's "
                         f"flat code space; got shape {np.shape(axes)}")
    k = len(vectors)
    return Axes(vectors, np.ones(k), [f"axis {i + 1}" for i in range(k)], np.zeros(k, bool), "given")


class LatentWalk(PartsWidget):
    """Latent sliders decoded in the page: `LatentWalk(model, start=None, axes=None)`.

    model: a VAE object or a folder/file explorer.checkpoint.from_pretrained loads; start: a code of the model's
    latent shape (default: zeros, the prior's mean); axes: an explorer.latent.Axes or (K, D) directions (default:
    the first 8 dimensions); ranges: each slider's (lo, hi); display_size: the image's width in CSS pixels;
    cache_dir: where the decoder's ONNX export is kept (default: the explorer cache's onnx/ folder); decode_in:
    "page" (frames decoded in the browser), "kernel" (the kernel decodes on release, and the page shows that image),
    or "auto" (the page, unless its frames would be too slow: `page_reason`).
    `.code` follows the sliders on release; `.image` is the kernel's torch decode of `.code`, (H, W) or (H, W, 3)
    uint8 as the page paints it; `.path` says where the page decodes ("pending", "wasm", "fallback", with
    `.reason`)."""

    code = traitlets.Any()  # numpy (*latent_shape) float32, the code at the last release (or as set here)

    def __init__(self, model: VAE | str | Path, start: np.ndarray | None = None,
                 axes: Axes | np.ndarray | None = None, *, ranges: tuple[float, float] = (-4.0, 4.0),
                 display_size: int = 224, cache_dir: str | Path | None = None, decode_in: str = "auto") -> None:
        self.model, self.digest = resolve_model(model)
        self.kernel_reason = page_reason(self.model, decode_in)  # "" where the page decodes
        self.latent_shape = tuple(int(s) for s in self.model.latent_shape)
        d = int(np.prod(self.latent_shape))
        self.axes = as_axes(axes, self.latent_shape)
        start_code = np.zeros(d) if start is None else np.asarray(start, dtype=np.float64).reshape(-1)
        if start_code.size != d:
            raise ValueError(f"start must hold {d} numbers (the latent shape {self.latent_shape}), got "
                             f"{np.size(start)}")
        lo, hi = (float(r) for r in ranges)
        if not lo < hi:
            raise ValueError(f"ranges must be (lo, hi) with lo < hi, got {ranges}")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "onnx"
        self.path, self.reason = "pending", ""
        self._releasing = False
        first = self._torch_decode(start_code)  # (C, H, W): the shape the page paints
        super().__init__(ESM, CSS)
        if not self.kernel_reason:
            self.parts[self.digest[:16]] = lambda: decoder_bytes(self.model, self.digest, self.cache_dir)
        self.data = {
            "model_key": self.digest[:16], "start": start_code.tolist(), "vectors": self.axes.vectors.tolist(),
            "scales": np.asarray(self.axes.scales, dtype=np.float64).tolist(), "labels": list(self.axes.labels),
            "values": [0.0] * len(self.axes), "ranges": [[lo, hi]] * len(self.axes),
            "image_shape": list(first.shape), "display_size": int(display_size), "mode": "sliders",
            "pad_size": 280, "parts": {} if self.kernel_reason else {"decoder_url": self.digest[:16]},
            **({"page_reason": self.kernel_reason, "server_image": _png_url(first)} if self.kernel_reason else {}),
        }
        self.code = start_code.reshape(self.latent_shape).astype(np.float32)
        self.observe(self._code_set, names="code")

    # -- what Python reads ------------------------------------------------------------------------
    @property
    def values(self) -> np.ndarray:
        """The slider values (K,) the page shows."""
        return np.asarray(self.data["values"], dtype=np.float64)

    @property
    def image(self) -> np.ndarray:
        """The kernel's torch decode of `.code`: (H, W) or (H, W, 3) uint8, rounded as the page paints."""
        return to_uint8(self._torch_decode(np.asarray(self.code)))

    def on_change(self, callback: Callable[[np.ndarray], Any]) -> Callable[[dict], None]:
        """Call callback(code) whenever `.code` changes (a release in the page, or a set here); returns the
        traitlets handler (for `unobserve(handler, names="code")`)."""
        def handler(change: dict) -> None:
            callback(change["new"])
        self.observe(handler, names="code")
        return handler

    # -- the page's reports --------------------------------------------------------------------------
    def _on_set(self, name: str, value: Any) -> None:
        if name == "status":
            status = value or {}
            self.path, self.reason = str(status.get("path", "pending")), str(status.get("reason") or "")
        elif name == "released":
            released = value or {}
            values = np.asarray(released.get("values") or [], dtype=np.float64)
            if released.get("model_key") == self.data["model_key"] and values.shape == (len(self.axes),):
                code = walk_code(np.asarray(self.data["start"]), self._axes_now(), values).reshape(
                    self.latent_shape).astype(np.float32)
                self._releasing = True
                try:
                    self.data = {**self.data, "values": values.tolist(), **self._kernel_image(code)}
                    self.code = code
                finally:
                    self._releasing = False

    # -- setting .code from Python ------------------------------------------------------------------
    def _axes_now(self) -> Axes:
        return Axes(np.asarray(self.data["vectors"]), np.asarray(self.data["scales"]), list(self.data["labels"]),
                    self.axes.collapsed, self.axes.kind)

    @traitlets.validate("code")
    def _valid_code(self, proposal: dict) -> np.ndarray:
        """Any array of the latent shape's size, kept as float32 (*latent_shape); refused otherwise."""
        code = np.asarray(proposal["value"], dtype=np.float32)
        if code.size != int(np.prod(self.latent_shape)):
            raise traitlets.TraitError(f".code must hold {int(np.prod(self.latent_shape))} numbers (the latent "
                                       f"shape {self.latent_shape}), got {code.size}")
        return code.reshape(self.latent_shape)

    def _code_set(self, change: dict) -> None:
        """A code set here: the sliders go to its least-squares values on the axes, the start takes the rest."""
        if self._releasing:
            return
        code = np.asarray(change["new"], dtype=np.float64).reshape(-1)
        start = np.asarray(self.data["start"], dtype=np.float64)
        a = np.asarray(self.data["vectors"]) * np.asarray(self.data["scales"])[:, None]  # (K, D) one unit each
        values = np.linalg.lstsq(a.T, code - start, rcond=None)[0]  # (K,)
        new_start = code - values @ a  # the part of the code off the axes
        self.data = {**self.data, "start": new_start.tolist(), "values": values.tolist(), **self._kernel_image(code)}

    def _kernel_image(self, code: np.ndarray) -> dict[str, str]:
        """{"server_image": the kernel's decode of `code` as a PNG data URL} where the kernel decodes, else {}."""
        return {"server_image": _png_url(self._torch_decode(code))} if self.kernel_reason else {}

    def _torch_decode(self, code: np.ndarray) -> np.ndarray:
        """(C, H, W) float32 in [0, 1]: the model's decode of one flat code, on the model's device."""
        z = torch.as_tensor(np.asarray(code, dtype=np.float32).reshape(1, *self.model.latent_shape))
        with torch.inference_mode():
            return self.model.decode_code(z.to(self.model.device))[0].float().cpu().numpy()


def _png_url(image: np.ndarray) -> str:
    """A (C, H, W) image in [0, 1] as a PNG data URL, for the page's <img>."""
    return "data:image/png;base64," + base64.b64encode(to_png(image)).decode("ascii")
