"""Demo page of the code-grid component on a shipped discrete model, for tests/browser/test_code_grid.py and
bench/bench_code_grid.py.

`streamlit run tests/browser/code_grid_demo_app.py` with this checkout's assets (ui.components.devserver). The model
is pretrained/$CODE_GRID_MODEL (default vq-mnist5k), its decode from indices exported into $CODE_GRID_CACHE (or a
temporary folder), and the grid is that of mnist5k's test item $CODE_GRID_ITEM (default 0). What the page reports
back is written under the element: the edited grid as `?codes=` text (ui.pages.walk.discrete.grid_text), the cell,
and the page's path, so that a test sees the server follow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.checkpoint import from_pretrained
from explorer.data import embedded
from explorer.onnx.export import exported_indices_decoder
from ui.components import code_grid
from ui.pages.walk.discrete import grid_text

KEY = "demo_grid"
ROOT = Path(__file__).resolve().parents[2]
name = os.environ.get("CODE_GRID_MODEL", "vq-mnist5k")
item = int(os.environ.get("CODE_GRID_ITEM", "0"))


@st.cache_resource
def _model_and_decoder():
    model = from_pretrained(ROOT / "pretrained" / name).eval()
    cache = os.environ.get("CODE_GRID_CACHE") or tempfile.mkdtemp(prefix="code-grid-")
    return model, exported_indices_decoder(model, name, cache)


model, export = _model_and_decoder()
image = embedded.load_mnist5k().test[item][0].float().numpy()  # (1, 28, 28) in [0, 1]
with torch.no_grad():
    grids = [g[0].numpy() for g in model.encode_indices(torch.from_numpy(image)[None])]
levels = model.code_levels()
st.title("code grid demo")
result = code_grid.code_grid(KEY, export.path, f"{name}:{export.info.sha256[:12]}", levels, grids, 0, 7, image,
                             f"{name}:item{item}", display_size=280, caption=f"{name}, test item {item}")
st.text(f"path: {result.path}")
if result.grids is not None:
    st.text(f"edited: {grid_text(result.grids[0])}")
    st.text(f"cell: {result.cell}")
    st.text(f"changed cells: {int(sum(np.sum(a != b) for a, b in zip(result.grids, grids)))}")
