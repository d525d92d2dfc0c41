"""Demo page of the big-map component, for tests/browser/test_big_map.py and bench/bench_big_map.py.

`python -m streamlit run tests/browser/bigmap_demo_app.py` from the checkout (-m puts it on the path, for
tests.support; frontend/assets installed: scripts/setup.sh, or the tests' fixture). Query parameters: n (points,
default 200000), codes=1 (send per-point codes, so hover decodes the ITEM's code; default: the PCA inverse of the
pointer's position). The points are N clustered random 2-D points with 10 labels; the decoder is
pretrained/conv-mnist5k's, exported with explorer.onnx.export (BIGMAP_DEMO_CACHE is where it is kept); the "PCA" is a fixed random
orthonormal pair of directions in its 16-D latent space, so the PCA inverse of a point and the item's code agree.
The item's own image (the server's) is the server decode of the item's code: by a rerun here, by a GET of the item
route when served through bigmap_demo_serve.py.
"""

from __future__ import annotations

import functools
import json
import time

import numpy as np
import streamlit as st

from explorer.images import to_png
from explorer.latent import decode
from explorer.onnx.export import CachedExport, exported_decoder
from ui.components.bigmap import big_map, select_box, select_lasso
from ui.components.bigmap import quantize
from tests.support.bigmap_points import clustered
from ui.services.itemserver import item_url, session_key
from tests.support.demo_models import EXPORTERS, export_cache, shipped_model

MODEL = "conv-mnist5k"
CLASSES = [f"class {k}" for k in range(10)]


@st.cache_resource(show_spinner=False)
def data(n: int):
    coords, labels, values = clustered(n)
    return coords, labels, values


@st.cache_resource(show_spinner=False)
def model_and_decoder():
    model, digest, _ = shipped_model(MODEL)
    export = exported_decoder(model, digest, export_cache("BIGMAP_DEMO_CACHE", "bigmap-demo-cache"), exporters=EXPORTERS)
    d = int(np.prod(model.latent_shape))
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((d, 2)))
    components = (q.T * 0.8).astype(np.float32)  # (2, D): code = mean + x c0 + y c1
    mean = np.zeros(d, dtype=np.float32)
    return model, digest, export, mean, components


def codes_for(coords: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return (mean[None] + coords.astype(np.float32) @ components).astype(np.float32)


@functools.lru_cache(maxsize=512)
def item_png(n: int, index: int) -> bytes:
    coords, _, _ = data(n)
    model, _, _, mean, components = model_and_decoder()
    image = decode(model, codes_for(coords[index:index + 1], mean, components))[0]
    return to_png(image, scale=4)


def main() -> None:
    t0 = time.perf_counter()
    st.set_page_config(page_title="Big map demo", layout="wide")
    st.title("Big map demo")
    try:
        n = int(st.query_params.get("n", 200_000))
    except ValueError:
        n = 200_000
    with_codes = st.query_params.get("codes") == "1"
    view = st.radio("View", ["map", "elsewhere"], horizontal=True, key="view")
    if view != "map":
        st.write("Another page (the map is not rendered here).")
        return
    coords, labels, values = data(n)
    model, digest, export, mean, components = model_and_decoder()
    if not isinstance(export, CachedExport):
        st.error(export.message)
        return
    codes = codes_for(coords, mean, components) if with_codes else None
    event = big_map("map", coords, labels, CLASSES, f"demo:{n}", values=values, value_name="ELBO",
                    decoder=export.path, model_key=f"{MODEL}:{digest}", pca_mean=mean, pca_components=components,
                    codes=codes, image_shape=tuple(model.config.input_shape),
                    item_image=lambda i: item_png(n, i), height=700, width=1000,
                    item_url=item_url(session_key(), f"demo:{n}", n, lambda i: item_png(n, i)))
    st.button("Rerun", key="rerun")
    st.caption(f"path={event.status.get('path', 'pending')}")
    st.caption(f"clicked={event.clicked}")
    st.caption(f"hovered={event.hovered}")
    if event.walk is not None:
        st.session_state["walk"] = event.walk
    st.caption(f"walk={st.session_state.get('walk')}")
    st.caption(f"map_ms={(time.perf_counter() - t0) * 1000:.0f}")
    sel = event.selection
    if sel is None:
        st.caption("selection=none")
        return
    q = quantize(coords, event.bounds)
    inside = select_box(q, sel.qbox) if sel.kind == "box" else select_lasso(q, sel.qpolygon)
    st.caption("selection=" + json.dumps({"kind": sel.kind, "total": sel.total, "python_total": int(inside.size),
                                          "counts": sel.counts, "first": sel.first[:10]}))
    st.subheader(f"Selection: {sel.total:,} points")
    cols = st.columns(8)
    for col, i in zip(cols, sel.first[:8]):
        col.image(item_png(n, int(i)), caption=f"item {i}")


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
