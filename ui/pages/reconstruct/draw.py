"""Draw to encode, on the Reconstruct page: a drawing canvas whose strokes the page encodes while you draw.

For grey-scale models of MNIST-like digits (the ones whose uploads get MNIST's preparation): the page prepares the
strokes as `explorer.images.prepare_digit` does, encodes them with the model's exported encoder (the posterior
mean), paints the reconstruction and marks the code on a small PCA map of the test codes, on every stroke event
(ui.live.live_draw). On release the raw raster comes here, is prepared again by `prepare_drawing` (the same
preparation, so the same 28x28 input within 1/255) and the page scores it like an upload, and can start the
latent walk from it. Without an export, WebAssembly, or the live component, the page says why. A conditional
model (cvae) draws under a class picked above the canvas: its encoder and decoder are exported under that class
(the class baked into each graph, one pair of files per class), and the release is scored under it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.images import ImageInputError, prepare_drawing
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.app.navigation import switch_to
from ui.components.live import live_draw
from ui.shared.conditioning import class_picker_ui
from ui.shared.pca_map import pca_map
from ui.shared.widgets import digit_model, encode_one

DRAW_KEY = "rec_draw"
CLASS_KEY = "draw_class"  # a conditional model's class for the drawing (session state)


def can_draw(ctx: Ctx) -> bool:
    """Whether the model takes drawings: grey-scale, MNIST-like digits on a dark background (the uploads that get
    `prepare_digit`); a conditional one draws under a class (`drawing_class`)."""
    return digit_model(ctx)


def drawing_class(ctx: Ctx) -> int | None:
    """The class a conditional model reads the drawing under (the picker's, else the sidebar's); None otherwise."""
    if not ctx.condition_classes:
        return None
    c = st.session_state.get(CLASS_KEY, ctx.condition or 0)
    return int(c) if c in range(ctx.condition_classes) else 0


def _map_of_test_codes(ctx: Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coords (N, 2), components (2, D), mean (D,)): the PCA map of the test codes (ui.pages.map.page.pca_map); with
    fewer than three test codes, the plane of the first two code dimensions and no dots."""
    view = ctx.data()
    if len(view.means) >= 3:
        coords, comps, mean = pca_map(ctx, view)
        return np.asarray(coords, dtype=np.float32), np.asarray(comps), np.asarray(mean)
    d = ctx.latent_size
    return np.zeros((0, 2), np.float32), np.eye(2, d), np.zeros(d)


def drawing_ui(ctx: Ctx):
    """The canvas; returns the released drawing as the model's input (1, H, W) tensor, or None (nothing drawn
    yet, a blank drawing, or drawing not available here: the page says which)."""
    import torch

    from ui.shared.decoders import (  # lazy: loads torch, which the first paint must not wait for
        live_decoder,
        live_encoder,
    )
    from ui.shared.pad import pad_extent  # lazy: loads torch, which the first paint must not wait for

    if not can_draw(ctx):
        st.info("Drawing is for grey-scale digit models (MNIST-like data, light ink on a dark background); "
                "upload an image or pick a test item instead.")
        return None
    if not app_config().live:
        st.info("Drawing needs the in-browser component, which this app runs without (--live off / "
                "VAE_EXPLORER_LIVE=off). Upload a picture of a digit instead.")
        return None
    condition = None
    if ctx.condition_classes:
        condition = class_picker_ui(ctx, "Draw as class", CLASS_KEY, default=drawing_class(ctx) or 0,
                                    help="A conditional model encodes and reconstructs the drawing given this class.")
    decoder, note = live_decoder(ctx, condition)
    encoder, enc_note = live_encoder(ctx, condition) if decoder is not None else (None, "")
    if decoder is None or encoder is None:
        st.warning("Drawing needs this model's encoder and decoder as ONNX for your browser, and the export failed: "
                   f"{note or enc_note}. Upload a picture of a digit instead.")
        return None
    if note:
        st.caption(note)
    coords, comps, mean = _map_of_test_codes(ctx)
    model_key = f"{ctx.weights_digest()}:{decoder.info.sha256[:12]}:{encoder.info.sha256[:12]}"  # one per class
    h, w = ctx.shape[-2:]
    st.caption("Draw a digit with the mouse, a pen or a finger: your browser prepares it as MNIST was prepared, "
               "encodes it and shows the reconstruction and where its code falls on the PCA map of the test codes "
               "while you draw. Release to score it here.")
    result = live_draw(DRAW_KEY, decoder.path, encoder.path, model_key, tuple(ctx.shape), mean, comps, coords,
                       pad_extent(coords), dots_key=f"{model_key}:pca:{len(coords)}")
    if result.path == "fallback":
        st.info(f"Your browser cannot encode in the page ({result.reason}): the drawing is reconstructed and "
                "scored here when you release.")
    if result.raster is None:
        return None
    try:
        prepared = prepare_drawing(result.raster, h, w)
    except ImageInputError as exc:
        st.info(f"{exc} Nothing to score yet.")
        return None
    return torch.from_numpy(prepared[None]).contiguous()


def walk_start_ui(ctx: Ctx, image) -> None:
    """A button that starts the latent walk at the drawing's code (the walk's "map point" start)."""
    from ui.shared.walk_panel import encode_under_class  # lazy: loads torch, which the first paint must not wait for

    if st.button("Use as walk start", key="rec_draw_walk", help="Start the latent walk at this drawing's code."):
        c = drawing_class(ctx)
        code = (encode_one(ctx, image) if c is None else encode_under_class(ctx.model, ctx.key, image.numpy(), c))
        code = code.astype(np.float64)
        st.session_state["walk_from_map"] = {"model_key": ctx.key, "dataset": ctx.data().name, "index": -1,
                                             "code": code.tolist(), "label": f"your drawing ({ctx.model.code_name})"}
        st.session_state["walk_start"] = "map point"
        switch_to("walk")


__all__ = ["CLASS_KEY", "DRAW_KEY", "can_draw", "drawing_class", "drawing_ui", "walk_start_ui"]
