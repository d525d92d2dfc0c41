"""The code-grid editor in headless Chromium on the shipped vq-mnist5k (tests/browser/code_grid_demo_app.py): a click
on a cell swaps its code, the page decodes the edited grid itself (onnxruntime-web on the exported decode from
indices, in a Web Worker or async on the page's thread) and the image changes; the painted pixels equal the server's decode of the same indices (torch's
`decode_indices`, uint8 +-1); and the edited grid comes back to Python.

The app runs this checkout's built assets (the component_assets fixture), not another checkout's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from code_grid_demo_app import write_payload
from conftest import ROOT, served_script
from driver import IDLE, shot
from explorer.images import to_uint8
from tests.support import checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODEL = "vq-mnist5k"
HOOK = "window.__codeGrid"
PIXELS = f"""() => {{
  const inst = Object.values({HOOK}.instances)[0];
  const {{ width, height }} = inst.canvas;
  const rgba = inst.ctx.getImageData(0, 0, width, height).data;
  return {{ width, height, red: Array.from(rgba.filter((_, i) => i % 4 === 0)),
            indices: Array.from(inst.indices, Number) }};
}}"""


@pytest.fixture(scope="module")
def grid_url(tmp_path_factory, component_assets):
    if MODEL not in checkpoints.shipped():
        pytest.skip(f"pretrained/{MODEL} is not here")
    tmp = tmp_path_factory.mktemp("code-grid")
    write_payload(tmp / "payload.json", MODEL, 0, tmp / "cache")  # here: the page's process then imports no torch
    with served_script(ROOT / "tests" / "browser" / "code_grid_demo_app.py", tmp,
                       {"CODE_GRID_PAYLOAD": str(tmp / "payload.json")}, assets=component_assets) as url:
        yield url


def _server_decode(indices: list[int]) -> np.ndarray:
    """The server's decode of the flat indices, as the page would show it: uint8 (H, W) of the grey image."""
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(ROOT / "pretrained" / MODEL).eval()
    (level,) = model.code_levels()
    grid = torch.tensor(indices, dtype=torch.int64).reshape(1, *level.grid)
    return to_uint8(model.decode_indices(grid)[0].numpy(), 1)


@pytest.mark.parametrize("decode_in", ["worker", "main"])
def test_a_swapped_cell_is_decoded_in_the_page_as_the_server_decodes_it(page, grid_url, shots, decode_in):
    page.goto(f"{grid_url}/?decode_in={decode_in}")
    page.wait_for_function(f"{HOOK} && {HOOK}.frames.length > 0", timeout=60_000)  # the start grid's decode
    start = page.evaluate(PIXELS)
    cells = page.get_by_test_id("code-grid-cells")
    box = cells.bounding_box()
    page.get_by_test_id("code-grid-code").fill("300")
    # the centre of cell (3, 4) of the 7 x 7 grid
    page.mouse.click(box["x"] + box["width"] * 4.5 / 7, box["y"] + box["height"] * 3.5 / 7)
    page.wait_for_function(f"{HOOK}.frames.some(f => f.cell && f.cell[0] === 3 && f.cell[1] === 4 && f.code === 300)")
    edited = page.evaluate(PIXELS)
    assert edited["indices"][3 * 7 + 4] == 300 and start["indices"][3 * 7 + 4] != 300
    assert sum(a != b for a, b in zip(start["indices"], edited["indices"])) == 1
    shot(page, shots / "swapped.png")
    page_image = np.array(edited["red"], dtype=np.int16).reshape(edited["height"], edited["width"])
    assert np.abs(page_image - np.array(start["red"]).reshape(page_image.shape)).max() > 0, "the image did not change"
    server = _server_decode(edited["indices"]).astype(np.int16)
    assert server.shape == page_image.shape
    assert np.abs(page_image - server).max() <= 1, "the page's decode differs from the server's by more than 1/255"
    # the edited grid reaches Python (a quarter second after the click, then a rerun)
    page.get_by_text("changed cells: 1").wait_for(timeout=30_000)
    page.wait_for_selector(IDLE, state="attached")
    text = page.get_by_text("edited: ").inner_text()
    assert text.split("edited: ")[1].split(";")[3].split(",")[4] == "300"
    assert page.get_by_text("path: wasm").count() == 1
    where = "in a Web Worker" if decode_in == "worker" else "async on the page's thread"
    assert where in page.get_by_test_id("code-grid-status").inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
