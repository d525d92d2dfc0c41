"""Demo page of the live component's 2-D pad, for tests/browser/test_live_pad.py.

Query parameter `plane`: "latent" (default: mlp-mnist5k-2d's whole latent space, unit axes, start 0, its test
means as dots) or "pca" (conv-mnist5k's stored PCA: axes = the two components, scale 1, start = the PCA mean,
dots = the PCA coordinates). LIVE_DEMO_CACHE is where the exported decoders are kept. The pad is drawn by
ui.live.live_latent(mode="pad"); the released point is shown as text.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
from safetensors.numpy import load_file

from explorer.checkpoint import from_pretrained
from explorer.files import file_sha256
from explorer.onnx.export import CachedExport, exported_decoder
from ui.components.live import live_latent
from ui.shared.pad import pad_extent

ROOT = Path(__file__).resolve().parents[2]
PLANES = {"latent": "mlp-mnist5k-2d", "pca": "conv-mnist5k"}


@st.cache_resource(show_spinner=False)
def load(name: str):
    folder = ROOT / "pretrained" / name
    model = from_pretrained(folder)
    digest = file_sha256(folder / "model.safetensors")[:16]
    cache = Path(os.environ.get("LIVE_DEMO_CACHE") or Path(tempfile.gettempdir()) / "live-demo-cache")
    export = exported_decoder(model, digest, cache, exporters=("torchscript", "dynamo"))
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
