"""Demo page of the live-latent component, for the browser tests and bench/bench_live_drag.py.

`streamlit run tests/browser/live_demo_app.py` (with frontend/assets installed: scripts/setup.sh, or the tests'
fixture). Query parameter `model` picks a shipped checkpoint (default conv-mnist5k); LIVE_DEMO_CACHE is where
the exported decoders are kept (default: a folder under the system's temp dir). The page shows which path
decodes: in the page (onnxruntime-web) or, on the component's fallback, the server (plain sliders + st.image).
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from explorer.images import to_png
from explorer.latent import Axes, decode, dimension_axes, walk_code
from explorer.onnx.export import CachedExport, exported_decoder
from ui.components.live import live_latent
from tests.support.demo_models import EXPORTERS, ROOT, export_cache, shipped_model

MODELS = ("conv-mnist5k", "mlp-mnist5k-2d", "conv-patches")
MAX_AXES = 6
DISPLAY = 224


@st.cache_resource(show_spinner=False)
def load(name: str):
    """(model, weights digest, the decoder export) of a shipped checkpoint."""
    model, digest, _ = shipped_model(name)
    export = exported_decoder(model, digest, export_cache("LIVE_DEMO_CACHE", "live-demo-cache"), exporters=EXPORTERS)
    return model, digest, export


def axes_for(model) -> Axes:
    """The first raw latent dimensions, most informative first when the checkpoint says which."""
    from explorer.checkpoint import read_metrics

    kl = read_metrics(ROOT / "pretrained" / model_name()).get("kl_per_dim")
    d = int(np.prod(model.latent_shape))
    kl = np.asarray(kl, dtype=np.float64).reshape(-1) if kl is not None and len(kl) == d else np.ones(d)
    return dimension_axes(kl, tuple(model.latent_shape)).subset(list(range(min(MAX_AXES, d))))


def model_name() -> str:
    name = st.query_params.get("model", MODELS[0])
    return name if name in MODELS else MODELS[0]


def main() -> None:
    st.set_page_config(page_title="Live latent demo", layout="wide")
    st.title("Live latent demo")
    name = model_name()
    model, digest, export = load(name)
    if not isinstance(export, CachedExport):
        st.error(export.message)
        return
    axes = axes_for(model)
    start = np.zeros(int(np.prod(model.latent_shape)))
    values_key = f"live_values:{name}"
    values = st.session_state.get(values_key, np.zeros(len(axes)))
    result = live_latent("live", export.path, f"{name}:{digest}", start, axes.vectors, axes.scales, axes.labels,
                         values, tuple(model.config.input_shape), ranges=(-3.0, 3.0), display_size=DISPLAY)
    if result.values is not None and not np.array_equal(result.values, values):
        st.session_state[values_key] = values = result.values
    where = {"wasm": f"in the page (onnxruntime-web {result.ort or ''})", "fallback": "on the server",
             "pending": "not known yet"}[result.path]
    st.markdown(f"Decoding: **{where}**", help=result.reason or None)
    st.caption(f"path={result.path}")
    if result.path == "fallback":
        st.warning(f"In-page decoding is unavailable: {result.reason}. The server decodes the sliders below.")
        server = [st.slider(label, -3.0, 3.0, float(v), 0.1, key=f"server:{name}:{k}")
                  for k, (label, v) in enumerate(zip(axes.labels, values))]
        image = decode(model, walk_code(start, axes, server)[None])[0]
        st.image(to_png(image, scale=max(1, DISPLAY // model.config.input_shape[-1])), caption="server decode")
    st.caption("released=" + ("none" if result.values is None else json.dumps(np.round(values, 4).tolist())))
    st.button("Rerun", key="rerun")


main()
