"""The codebook panel (ui/pages/walk/discrete.py) on the shipped vq-mnist5k: data-set-level usage as a histogram,
the code -> patch gallery, a grid edit that changes the server's decode, and a message for a pasted grid with an
index outside the codebook."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from explorer.models.base import CodeLevel
from tests.support.apptest_helpers import errors, image_by_caption, open_app
from ui.pages.walk.discrete import (
    clicked_cell,
    grid_bytes,
    grid_from_upload,
    grid_text,
    parse_grid,
)


def _vq_mnist5k(shipped: dict):
    found = shipped.get("vq-mnist5k")
    if found is None:
        pytest.skip("pretrained/vq-mnist5k is not here")
    return found


def _counted(at, timeout_s: float = 60.0):
    """Rerun until the background count is done and the panel shows its usage."""
    deadline = time.monotonic() + timeout_s
    while not any(s.value == "Codebook usage" for s in at.subheader):
        assert time.monotonic() < deadline, "the usage count did not finish"
        assert not at.exception, [e.value for e in at.exception]
        time.sleep(0.3)
        at.run()
    return at


def test_the_codebook_panel_counts_usage_edits_a_cell_and_names_a_bad_index(shipped_env, media):
    at = _counted(open_app(_vq_mnist5k(shipped_env), "walk"))
    assert not at.exception and not errors(at), errors(at)
    captions = [c.value for c in at.caption]
    assert any("data set-level perplexity" in c and "(500 items)" in c for c in captions), captions
    assert any(c.startswith("Dead codes") for c in captions), captions
    assert [m.label for m in at.metric][:3] == ["codes in use", "share in use", "data-set-level perplexity"]
    assert len(at.get("plotly_chart")) == 3  # the usage histogram, the codebook's PCA map, the clickable grid
    image_by_caption(at, "item ")  # the gallery: items that use the most used code, boxes drawn
    image_by_caption(at, "Along code ")  # the walk along the edited cell's code's neighbours

    before = media.array(image_by_caption(at, "decode with cell (3, 3) set to code"))
    old = at.number_input(key="codebook_new").value
    at.number_input(key="codebook_new").set_value((old + 256) % 512).run()
    assert not at.exception and not errors(at)
    after = media.array(image_by_caption(at, f"decode with cell (3, 3) set to code {(old + 256) % 512}"))
    assert np.abs(after.astype(int) - before.astype(int)).max() > 0, "the decode did not change"

    at.text_input(key="codebook_pasted").set_value(";".join([",".join(["600"] * 7)] * 7)).run()
    assert not at.exception
    assert any("600" in e and "outside" in e and "0..511" in e for e in errors(at)), errors(at)


LEVEL = CodeLevel("code", (2, 3), 4, 6, 1, 8, 16)


def test_parse_grid_reads_a_grid_and_names_each_problem():
    grid = np.array([[0, 1, 2], [15, 4, 5]])
    assert np.array_equal(parse_grid(grid_text(grid), LEVEL), grid)
    assert np.array_equal(parse_grid("0 1 2\n15 4 5", LEVEL), grid)
    with pytest.raises(ValueError, match="outside"):
        parse_grid("0,1,2;16,4,5", LEVEL)
    with pytest.raises(ValueError, match="2 x 3 cells; got 1 x 3"):
        parse_grid("0,1,2", LEVEL)
    with pytest.raises(ValueError, match="rows of"):
        parse_grid("0,1,2;3,4", LEVEL)
    with pytest.raises(ValueError, match="whole numbers"):
        parse_grid("0,1,x;3,4,5", LEVEL)


def test_a_link_with_an_index_outside_the_codebook_gets_a_message(shipped_env):
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest_helpers import APP, switch_page

    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["codes"] = ";".join([",".join(["3"] * 7)] * 6 + ["3,3,3,3,3,3,-1"])
    at.run()
    at.selectbox(key="model_folder").set_value(str(_vq_mnist5k(shipped_env))).run()
    switch_page(at, "walk")
    _counted(at.run())
    assert not at.exception
    assert any("-1" in e and "outside" in e for e in errors(at)), errors(at)


def test_grid_from_upload_reads_npy_and_text_and_names_each_problem():
    grid = np.array([[0, 1, 2], [15, 4, 5]])
    assert np.array_equal(grid_from_upload("g.npy", grid_bytes(grid), LEVEL), grid)
    assert np.array_equal(grid_from_upload("g.txt", b"0,1,2;15,4,5", LEVEL), grid)
    with pytest.raises(ValueError, match="code index 16 .* outside"):
        grid_from_upload("g.npy", grid_bytes(grid + 1), LEVEL)
    with pytest.raises(ValueError, match="float32 values; code indices are integers"):
        grid_from_upload("g.npy", _npy(grid.astype(np.float32)), LEVEL)
    with pytest.raises(ValueError, match=r"holds an array of shape \(3, 2\)"):
        grid_from_upload("g.npy", grid_bytes(grid.T), LEVEL)
    with pytest.raises(ValueError, match="not a readable .npy"):
        grid_from_upload("g.npy", b"not numpy", LEVEL)


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_a_click_on_the_grid_chart_names_its_cell():
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 4, "x": 1.0, "y": 2.0}]}}
    assert clicked_cell(event, (2, 3)) == (1, 1)  # markers run row by row
    assert clicked_cell({"selection": {"points": [{"curve_number": 0, "point_index": 4}]}}, (2, 3)) is None  # the image
    assert clicked_cell({"selection": {"points": [{"curve_number": 1, "point_index": 6}]}}, (2, 3)) is None
    assert clicked_cell(None, (2, 3)) is None and clicked_cell({"selection": {"points": []}}, (2, 3)) is None


def test_the_panel_on_an_onnx_index_pair_with_no_code_vectors(shipped_env, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from explorer.checkpoint import from_pretrained
    from explorer.onnx.discrete import export_discrete_pair

    folder = export_discrete_pair(from_pretrained(_vq_mnist5k(shipped_env)), tmp_path / "models" / "vq-onnx")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(folder.parent))
    at = _counted(open_app(folder, "walk"))
    assert not at.exception and not errors(at), errors(at)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("This model holds no code vectors") for c in captions), captions
    assert any(c.startswith("No walk along a code's neighbours") for c in captions), captions


class _FakePage:
    """Stands in for the code-grid element's page in AppTest (which runs no browser): records what Python sends,
    and answers as the page does once it decodes (status "wasm") with cell (2, 5) set to code 100."""

    def __init__(self):
        self.sent: list[dict] = []

    def __call__(self, key, data, default, **callbacks):
        import streamlit as st

        self.sent.append(data)
        h, w = data["levels"][0]["grid"]
        grid = list(data["base"])
        grid[2 * w + 5] = 100
        state = {"status": {"path": "wasm", "model_key": data["model_key"]},
                 "edited": {"grid_key": data["grid_key"], "grids": [grid], "cell": [2, 5], "level": 0, "code": 100,
                            "nonce": 1}}
        st.session_state[key] = state
        return state


@pytest.mark.slow
def test_the_editor_moves_to_the_page_once_the_page_decodes(shipped_env, monkeypatch):
    """With the component installed, the panel exports the decode from indices and loads the element out of sight
    beside the server's editor; once the element says it decodes, the server's editor is gone and the page's edit
    drives the link and the walk along the code's neighbours."""
    pytest.importorskip("onnxruntime")
    from ui.components import code_grid

    fake = _FakePage()
    monkeypatch.setattr(code_grid, "assets_installed", lambda: True)
    monkeypatch.setattr(code_grid, "_renderer", lambda: fake)
    at = _counted(open_app(_vq_mnist5k(shipped_env), "walk"))
    assert not at.exception and not errors(at), errors(at)
    first = fake.sent[-1]
    assert first["hidden"] and first["decoder_b64"] and len(first["base"]) == 49  # the server's editor holds the page
    assert at.number_input(key="codebook_row") is not None
    at.run()
    assert not at.exception and not errors(at), errors(at)
    assert not fake.sent[-1]["hidden"] and "decoder_b64" not in fake.sent[-1]  # the bytes went once
    assert not [n for n in at.number_input if n.key in ("codebook_row", "codebook_col", "codebook_new")]
    captions = [c.value for c in at.caption]
    link = next(c for c in captions if c.startswith("Decoded in your browser"))
    edited = link.split("?codes=")[1].rstrip("`").split(";")
    assert edited[2].split(",")[5] == "100"
    assert at.query_params["codes"] == link.split("?codes=")[1].rstrip("`")  # the link follows the page
    image_by_caption(at, "Along code 100's neighbours: cell (2, 5)")  # the walk follows the page's edit
