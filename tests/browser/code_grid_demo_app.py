"""Demo page of the code-grid component on a shipped discrete model, for tests/browser/test_code_grid.py.

`streamlit run tests/browser/code_grid_demo_app.py` with this checkout's assets (ui.components.devserver). What it
shows comes from the JSON file $CODE_GRID_PAYLOAD, written by `write_payload` (the test's fixture does, in its own
process, so that this page imports no torch and starts in seconds): the exported decode from indices of
pretrained/<model>, the code grid of mnist5k's test item <item> and the item itself. What the page reports back is
written under the element: the edited grid as `?codes=` text, the cell, and the page's path, so that a test sees the
server follow. `?decode_in=main` decodes on the page's thread instead of the Web Worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import streamlit as st

from ui.components import code_grid

KEY = "demo_grid"


def write_payload(path: Path, model_name: str, item: int, cache: Path) -> dict:
    """Export pretrained/<model_name>'s decode from indices into cache, encode mnist5k test item `item`, and write
    what this page shows to path (JSON); returns it."""
    import torch

    from explorer.checkpoint import from_pretrained
    from explorer.data import embedded
    from explorer.onnx.export import exported_indices_decoder

    model = from_pretrained(Path(__file__).resolve().parents[2] / "pretrained" / model_name).eval()
    export = exported_indices_decoder(model, model_name, cache)
    image = embedded.load_mnist5k().test[item][0].float()  # (1, 28, 28) in [0, 1]
    with torch.no_grad():
        grids = [g[0].tolist() for g in model.encode_indices(image[None])]
    payload = {"onnx": str(export.path), "model_key": f"{model_name}:{export.info.sha256[:12]}", "grids": grids,
               "grid_key": f"{model_name}:item{item}", "image": image.tolist(), "caption": f"{model_name}, test item {item}",
               "levels": [{"name": lv.name, "grid": list(lv.grid), "stride": lv.stride,
                           "codebook_size": lv.codebook_size} for lv in model.code_levels()]}
    path.write_text(json.dumps(payload))
    return payload


def page() -> None:
    """The page: the element on the payload's grid, and what it reported."""
    shown = json.loads(Path(os.environ["CODE_GRID_PAYLOAD"]).read_text())
    levels = [SimpleNamespace(**lv) for lv in shown["levels"]]
    grids = [np.asarray(g, dtype=np.int64) for g in shown["grids"]]
    st.title("code grid demo")
    result = code_grid.code_grid(KEY, shown["onnx"], shown["model_key"], levels, grids, 0, 7,
                                 np.asarray(shown["image"], dtype=np.float32), shown["grid_key"], display_size=280,
                                 caption=shown["caption"], decode_in=st.query_params.get("decode_in", "worker"))
    st.text(f"path: {result.path}")
    if result.grids is not None:
        st.text("edited: " + ";".join(",".join(str(int(v)) for v in row) for row in result.grids[0]))
        st.text(f"cell: {result.cell}")
        st.text(f"changed cells: {int(sum(np.sum(a != b) for a, b in zip(result.grids, grids)))}")


if __name__ == "__main__":  # streamlit runs the script as __main__; the test imports write_payload only
    page()
