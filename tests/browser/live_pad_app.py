"""Demo page of the live component's 2-D pad, for tests/browser/test_live_pad.py.

Query parameter `plane`: "latent" (default: mlp-mnist5k-2d's whole latent space, unit axes, start 0, its test
means as dots) or "pca" (conv-mnist5k's stored PCA: axes = the two components, scale 1, start = the PCA mean,
dots = the PCA coordinates). LIVE_DEMO_CACHE is where the exported decoders are kept. The pad is drawn by
ui.live.live_latent(mode="pad"); the released point is shown as text.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st
from safetensors.numpy import load_file

from explorer.onnx.export import CachedExport, exported_decoder
from ui.components.live import live_latent
from ui.shared.pad import pad_extent
from tests.support.demo_models import EXPORTERS, export_cache, shipped_model

PLANES = {"latent": "mlp-mnist5k-2d", "pca": "conv-mnist5k"}


@st.cache_resource(show_spinner=False)
def load(name: str):
    model, digest, folder = shipped_model(name)
    export = exported_decoder(model, digest, export_cache("LIVE_DEMO_CACHE", "live-demo-cache"), exporters=EXPORTERS)
    return model, digest, export, load_file(str(folder / "analysis.safetensors"))


def main() -> None:
    st.set_page_config(page_title="Live pad demo", layout="wide")
    st.title("Live pad demo")
    plane = st.query_params.get("plane", "latent")
    plane = plane if plane in PLANES else "latent"
    name = PLANES[plane]
    model, digest, export, analysis = load(name)
    if not isinstance(export, CachedExport):
        st.error(export.message)
        return
    if plane == "pca":
        start, vectors, dots = analysis["pca_mean"], analysis["pca_components"], analysis["pca_coords"]
        labels, floor = ["PCA 1", "PCA 2"], 0.0
    else:
        start, vectors, dots = np.zeros(2), np.eye(2), analysis["test_means"]
        labels, floor = ["z0", "z1"], 3.0
    key = f"pad_point:{plane}"
    point = st.session_state.get(key, np.zeros(2))
    result = live_latent("pad", export.path, f"{name}:{digest}", start, vectors, np.ones(2), labels, point,
                         tuple(model.config.input_shape), ranges=pad_extent(dots, floor=floor), display_size=196,
                         mode="pad", dots=dots)
    if result.values is not None and not np.array_equal(result.values, point):
        st.session_state[key] = point = result.values
    st.caption(f"path={result.path}")
    st.caption("released=" + ("none" if result.values is None else json.dumps(np.round(point, 5).tolist())))
    st.button("Rerun", key="rerun")


main()
