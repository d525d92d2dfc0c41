"""LatentWalk (explorer.notebook) in a real JupyterLab, in headless Chromium, with every request to another host
blocked: the widget's page decodes while a slider is dragged (page.mouse), its frames equal the kernel's torch
decode, `.code` follows the release, and setting `.code` from Python repaints the page. One server for the module.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch

from explorer.checkpoint import from_pretrained
from explorer.images import to_uint8
from tests.support.jupyter import kernel_client, kernel_eval, start_lab, stop_lab, write_notebook

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "pretrained" / "conv-mnist5k"
NOTEBOOK = "walk.ipynb"
DRAG_S = 2.0

FRAMES_JS = """() => (window.__liveLatent?.frames ?? []).map((f) => ({
  code: Array.from(f.code), pixels: Array.from(f.pixels), tDrawn: f.tDrawn, dragging: f.dragging }))"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    root = work / "notebooks"
    root.mkdir()
    write_notebook(root / NOTEBOOK, [
        "from explorer.notebook import LatentWalk\n"
        f"w = LatentWalk({str(MODEL)!r}, cache_dir={str(work / 'cache')!r})\nw",
        f"w2 = LatentWalk({str(MODEL)!r}, cache_dir={str(work / 'cache')!r})\nw2",  # a second widget, same model
    ])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the kernel imports what the test process imports
    server = start_lab(root, work, env)
    yield server
    stop_lab(server)


@pytest.fixture(scope="module")
def model():
    return from_pretrained(MODEL)


def torch_pixels(model, code) -> np.ndarray:
    """The kernel's decode, as the page paints it: (H, W) uint8."""
    z = torch.as_tensor(np.asarray(code, dtype=np.float32).reshape(1, *model.latent_shape))
    with torch.inference_mode():
        return to_uint8(model.decode_code(z)[0])


def test_latent_walk_in_jupyterlab(lab, browser, model, shots):
    ctx = browser.new_context(viewport={"width": 1300, "height": 1000})
    blocked: list[str] = []

    def guard(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", None) or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')")
    # the kernel is up when the app's session for the notebook says so
    page.wait_for_function("() => { const w = window.jupyterapp.shell.currentWidget;"
                           " return w?.sessionContext?.session?.kernel?.status === 'idle'; }", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => document.querySelectorAll(\".ll-root[data-path='wasm']\").length === 2",
                           timeout=180_000)
    page.wait_for_function("() => (window.__liveLatent?.frames ?? []).length > 0")
    client = kernel_client(lab, NOTEBOOK)

    # drag the first slider with the mouse for DRAG_S seconds, back and forth
    box = page.locator(".ll-root input[type=range]").first.bounding_box()
    y, x0, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    n_before = len(page.evaluate(FRAMES_JS))
    page.mouse.move(x0 + width / 2, y)
    page.mouse.down()
    t0 = page.evaluate("performance.now()")
    start = time.monotonic()
    i = 0
    # one sweep, every move a new slider value; steps=16: Playwright sends the in-between moves itself (a Python
    # round trip per move is the driver's limit on a busy machine, not the page's: ~12 moves/s measured)
    while (elapsed := time.monotonic() - start) < DRAG_S:
        page.mouse.move(x0 + width * (0.5 + 0.45 * elapsed / DRAG_S), y, steps=16)
        i += 16
    t1 = page.evaluate("performance.now()")
    page.mouse.move(x0 + width * 0.8, y)
    page.mouse.up()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "jupyterlab_walk.png"))

    frames = page.evaluate(FRAMES_JS)[n_before:]
    in_drag = [f for f in frames if t0 <= f["tDrawn"] <= t1]
    distinct = {bytes(f["pixels"]) for f in in_drag}
    figures = (f"JupyterLab LatentWalk: {len(distinct)} distinct frames ({len(in_drag)} painted) in "
               f"{(t1 - t0) / 1000:.2f} s of drag, {i} mouse moves; blocked requests: {len(blocked)} {blocked[:3]}")
    print(figures)
    (shots / "figures.txt").write_text(figures + "\n")
    assert len(distinct) >= 30, f"only {len(distinct)} distinct frames in {(t1 - t0) / 1000:.2f} s"

    # five frames spread over the drag equal the kernel's torch decode of their codes (uint8 +-1)
    for f in [in_drag[j] for j in np.linspace(0, len(in_drag) - 1, 5).astype(int)]:
        want = torch_pixels(model, f["code"]).reshape(-1).astype(int)
        diff = np.abs(np.asarray(f["pixels"]) - want).max()
        assert diff <= 1, f"a frame differs from torch's decode by {diff}"

    # .code in the kernel: the released slider values
    page_values = page.evaluate("() => Array.from(document.querySelector('.ll-root').querySelectorAll('input[type=range]'), (e) => Number(e.value))")
    page.wait_for_timeout(500)
    kernel = kernel_eval(client, "{'code': w.code.ravel().tolist(), 'values': w.values.tolist(), 'start': w.data['start'],"
                                 " 'vectors': w.data['vectors'], 'scales': w.data['scales'], 'path': w.path,"
                                 " 'model_key': w.data['model_key']}")
    assert kernel["path"] == "wasm"
    np.testing.assert_allclose(kernel["values"], page_values, atol=1e-9)
    want_code = np.asarray(kernel["start"]) + (np.asarray(page_values) * np.asarray(kernel["scales"])) @ np.asarray(kernel["vectors"])
    np.testing.assert_allclose(kernel["code"], want_code, atol=1e-5)
    assert kernel["values"][0] != 0.0

    # setting .code from Python repaints the page with the kernel's decode of that code
    n_before = len(page.evaluate(FRAMES_JS))
    code = kernel_eval(client, "w.code.ravel().tolist()", setup="import numpy as _np\n"
                       "w.code = _np.random.default_rng(3).standard_normal(w.latent_shape).astype(_np.float32)")
    page.wait_for_function(f"() => window.__liveLatent.frames.length > {n_before}")
    page.wait_for_timeout(500)
    last = page.evaluate(FRAMES_JS)[-1]
    np.testing.assert_allclose(last["code"], code, atol=1e-5)
    want = torch_pixels(model, code).reshape(-1).astype(int)
    assert np.abs(np.asarray(last["pixels"]) - want).max() <= 1
    page.screenshot(path=str(shots / "jupyterlab_walk_set_code.png"))
    page.locator(".jp-Cell").first.screenshot(path=str(shots / "notebook-walk.png"))  # docs/screenshots/

    # the runtime and the decoder crossed once: the second widget's page had them already
    sent = kernel_eval(client, "[w.sent_parts, w2.sent_parts]")
    assert sorted(sent[0] + sent[1]) == sorted(["ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm",
                                                kernel["model_key"]]), sent
    client.stop_channels()
    assert not [u for u in blocked if "127.0.0.1" in u]
    ctx.close()
