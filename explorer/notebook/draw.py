"""DrawPad: draw to encode, as a notebook widget (an anywidget).

The page code is the live-latent component's draw mode (frontend/src/live_latent/draw.js, prepare_digit.js), the
same ESM as LatentWalk (live_latent_widget.js): while drawing, the page prepares the raster as MNIST was prepared,
encodes it with the model's exported encoder, decodes the code and marks it on a small PCA map. The encoder and
decoder travel as custom-message buffers (explorer.notebook.parts). On release the raster comes to the kernel,
which prepares it the same way (explorer.images.prepare_drawing) and encodes it with the model: `.code` holds the
code (the posterior mean, as the app's pages show it), `.prepared` the model's input.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import torch
import traitlets

from explorer.cache import default_cache_dir
from explorer.images import ImageInputError, prepare_drawing
from explorer.latent import decode, encode_means, pad_extent
from explorer.models.base import VAE
from explorer.notebook.models import decoder_bytes, encoder_bytes, resolve_model
from explorer.notebook.parts import PartsWidget
from explorer.pca import fit_pca

ESM = "live_latent_widget.js"  # the live-latent component: LatentWalk's module, in draw mode
CSS = "live_latent.css"
MAX_DOTS = 2000  # codes drawn as the PCA map's dots (base64 in data: 16 kB at most)


class DrawPad(PartsWidget):
    """Draw to encode: `DrawPad(model, codes=None)`.

    model: a grey-scale VAE (one channel: digits, light ink on dark) or a folder from_pretrained loads; codes (N, D):
    codes to map the drawing among (their PCA, explorer.pca.fit_pca; the first MAX_DOTS are drawn as dots); without
    them the map's axes are the first two latent dimensions. draw_size: the canvas side in CSS pixels.
    `.code`: the drawing's code at the last release (None before, and kept over a blank drawing); `.prepared`: the
    model's input (H, W) float32; `.path`: where the page encodes ("pending", "wasm", "fallback")."""

    code = traitlets.Any(None)  # numpy (*latent_shape) float32

    def __init__(self, model: VAE | str | Path, codes: np.ndarray | None = None, *, draw_size: int = 280,
                 brush: float | None = None, display_size: int = 196, map_size: int = 196,
                 cache_dir: str | Path | None = None) -> None:
        self.model, self.digest = resolve_model(model)
        self.latent_shape = tuple(int(s) for s in self.model.latent_shape)
        d = int(np.prod(self.latent_shape))
        c, h, w = (int(s) for s in decode(self.model, np.zeros(d)).shape[1:])
        if c != 1:
            raise ValueError(f"drawing is for grey-scale models (one channel); this one decodes {c} channels")
        if codes is not None:
            flat = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
            if flat.shape[1] != d:
                raise ValueError(f"codes must be (N, {d}) for this model, got {np.shape(codes)}")
            pca = fit_pca(flat)
            mean, comps, dots = pca.mean, pca.components, pca.coords[:MAX_DOTS].astype(np.float32)
        else:
            mean, comps, dots = np.zeros(d), np.eye(2, d), np.zeros((0, 2), np.float32)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "onnx"
        self.path, self.reason = "pending", ""
        self.prepared: np.ndarray | None = None
        self.raster: np.ndarray | None = None
        super().__init__(ESM, CSS)
        key = self.digest[:16]  # LatentWalk's and LatentMap's decoder key: the page holds the decoder once
        self.parts[key] = lambda: decoder_bytes(self.model, self.digest, self.cache_dir)
        self.parts[f"{key}#encoder"] = lambda: encoder_bytes(self.model, self.digest, self.cache_dir)
        self.data = {
            "mode": "draw", "model_key": key, "image_shape": [c, h, w], "display_size": int(display_size),
            "draw_size": int(draw_size), "brush": float(brush or max(2, round(draw_size / 12))),
            "map_size": int(map_size), "pca_mean": mean.tolist(), "pca_components": comps.tolist(),
            "ranges": pad_extent(dots if len(dots) else None, floor=3.0), "labels": ["PCA 1", "PCA 2"],
            "parts": {"decoder_url": key, "encoder_url": f"{key}#encoder"},
        }
        if len(dots):
            self.data = {**self.data, "dots_key": f"{key}:dots:{len(dots)}",
                         "dots_b64": base64.b64encode(dots.tobytes()).decode("ascii")}

    def _on_set(self, name: str, value: Any) -> None:
        if name == "status":
            status = value or {}
            self.path, self.reason = str(status.get("path", "pending")), str(status.get("reason") or "")
        elif name == "released" and isinstance(value, dict) and value.get("model_key") == self.data["model_key"]:
            side = int(value.get("side") or 0)
            raw = np.frombuffer(base64.b64decode(value.get("raster_b64") or ""), dtype=np.uint8)
            if side > 0 and raw.size == side * side:
                self.released(raw.reshape(side, side))

    def released(self, raster: np.ndarray) -> np.ndarray | None:
        """A drawing (S, S) uint8, white ink on black, as the page sends it on release -> its code (also set as
        `.code`), or None for a blank drawing (`.reason` says so; `.code` is kept)."""
        _, h, w = self.data["image_shape"]
        self.raster = np.asarray(raster, dtype=np.uint8)
        try:
            self.prepared = prepare_drawing(self.raster, h, w)
        except ImageInputError as exc:
            self.reason = str(exc)
            return None
        x = torch.from_numpy(self.prepared).reshape(1, 1, h, w)
        self.code = encode_means(self.model, x)[0].reshape(self.latent_shape).astype(np.float32)
        return self.code
