"""Demo page of the live component's drawing canvas, for tests/browser/test_live_draw.py and bench/bench_draw.py.

conv-mnist5k (its decoder and encoder exported into LIVE_DEMO_CACHE), its stored PCA map of the test codes; the
page reports the path, and on release the server's preparation of the released raster (explorer.images.
prepare_drawing) as text: its ink total and its first nonzero pixel, or the blank message.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st
from safetensors.numpy import load_file

from explorer.images import ImageInputError, prepare_drawing
from explorer.onnx.export import CachedExport, exported_decoder, exported_encoder
from ui.components.live import live_draw
from ui.shared.pad import pad_extent
from tests.support.demo_models import EXPORTERS, export_cache, shipped_model

NAME = "conv-mnist5k"


@st.cache_resource(show_spinner=False)
def load():
    model, digest, folder = shipped_model(NAME)
    cache = export_cache("LIVE_DEMO_CACHE", "live-demo-cache")
    dec = exported_decoder(model, digest, cache, exporters=EXPORTERS)
    enc = exported_encoder(model, digest, cache, exporters=EXPORTERS)
    return model, digest, dec, enc, load_file(str(folder / "analysis.safetensors"))


def main() -> None:
    st.set_page_config(page_title="Live draw demo", layout="wide")
    st.title("Live draw demo")
    model, digest, dec, enc, a = load()
    for export in (dec, enc):
        if not isinstance(export, CachedExport):
            st.error(export.message)
            return
    result = live_draw("draw", dec.path, enc.path, f"{NAME}:{digest}", tuple(model.config.input_shape),
                       a["pca_mean"], a["pca_components"], a["pca_coords"], pad_extent(a["pca_coords"]))
    st.caption(f"path={result.path}")
    if result.raster is None:
        st.caption("released=none")
    else:
        try:
            x = prepare_drawing(result.raster, *model.config.input_shape[-2:])
            st.caption("released=" + json.dumps({"strokes": result.strokes, "ink": round(float(x.sum()), 3),
                                                 "side": int(result.raster.shape[0])}))
        except ImageInputError as exc:
            st.caption(f"released=blank: {exc}")
    st.button("Rerun", key="rerun")


main()
