"""The live component's 2-D pad on the Latent map page: hover or drag over a plane and the page decodes that spot.

The plane is the PCA map's (axes = the two principal components, scale 1, origin = the PCA mean, so the pad's
point (x, y) is the code mean + x*c1 + y*c2, the same coordinates the Plotly map shows) or, for a 2-D model's
"latent plane" map, the whole latent space (unit axes, origin 0). The map's points are drawn on the pad as
dots, so empty space between them can be explored. Without an exported decoder (or with the live component
switched off) nothing is shown: the map page works as before.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.images import display_scale
from explorer.latent import pad_extent  # the pad's extent, shared with explorer.notebook.DrawPad
from ui.app.config import app_config
from ui.app.navigation import switch_to
from ui.components.live import live_latent
from ui.shared.decoders import live_decoder

PAD_KEY = "map_pad"


def plane_axes(shown: str, components: np.ndarray | None, mean: np.ndarray | None, latent_size: int):
    """(start (D,), vectors (2, D), labels) of the map's plane: the PCA one or the raw (z0, z1) plane."""
    if shown == "pca":
        return (np.asarray(mean, dtype=np.float64).reshape(-1), np.asarray(components, dtype=np.float64)[:2],
                ["PCA 1", "PCA 2"])
    if shown == "plane" and latent_size == 2:
        return np.zeros(2), np.eye(2), ["z0", "z1"]
    return None


def map_pad(ctx, view, shown: str, coords: np.ndarray, components=None, mean=None) -> np.ndarray | None:
    """The pad below the map for the PCA map (or a 2-D model's latent plane): returns the released code, or
    None (not shown: another map, no export, the live component off, or nothing released yet)."""
    plane = plane_axes(shown, components, mean, ctx.latent_size)
    if plane is None or not app_config().live:
        return None
    try:
        export, _ = live_decoder(ctx)
    except Exception:  # noqa: BLE001  (no pad, silently: the map is what this page is for)
        return None
    if export is None:
        return None
    start, vectors, labels = plane
    model_key = f"{ctx.weights_digest()}:{export.info.sha256[:12]}"
    dots = np.asarray(coords, dtype=np.float32).reshape(-1, 2)
    state_key = f"_map_pad_point:{model_key}:{view.name}:{shown}"
    point = st.session_state.get(state_key, np.zeros(2))
    st.subheader("Decode any spot")
    st.caption("Hover or drag over the plane of the map: your browser decodes the code under the pointer "
               f"({' + '.join(['mean', 'x·c1', 'y·c2']) if shown == 'pca' else 'z = (x, y)'}). Release to keep a point.")
    h, w = ctx.shape[-2:]

    result = live_latent(PAD_KEY, export.path, model_key, start, vectors, np.ones(2), labels, point, tuple(ctx.shape),
                         ranges=pad_extent(dots, floor=3.0 if shown == "plane" else 0.0),
                         display_size=int(w * display_scale(h, w, 196)), mode="pad", dots=dots,
                         dots_key=f"{model_key}:{view.name}:{shown}:{len(dots)}")
    if result.path == "fallback":
        return None
    if result.values is not None and not np.array_equal(result.values, point):
        st.session_state[state_key] = point = result.values
    if state_key not in st.session_state:
        return None
    code = start + point @ vectors
    st.caption(f"Kept point: ({point[0]:+.3f}, {point[1]:+.3f})")
    if st.button("Send this point to the latent walk", key="map_pad_send"):
        st.session_state["walk_from_map"] = {"model_key": ctx.key, "dataset": view.name, "index": -1,
                                             "code": code.astype(np.float64).tolist(),
                                             "label": f"pad point ({point[0]:+.2f}, {point[1]:+.2f})"}
        st.session_state["walk_start"] = "map point"
        switch_to("walk")
    return code


__all__ = ["PAD_KEY", "map_pad", "pad_extent", "plane_axes"]
