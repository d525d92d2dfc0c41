"""Draw to encode in a real page (tests/browser/live_draw_app.py, conv-mnist5k, in headless Chromium).

A stroke drawn with page.mouse changes the reconstruction and the PCA map marker before the release; the page's
prepared 28x28 input equals the server's preparation (explorer.images.prepare_digit) of the raster the page drew
(±1/255), also for rasters made here that take prepare_digit's other paths (growing, paper level); the page's
code is the server's encoder mean of that input, its reconstruction the server's decode, its marker the PCA
projection of its code; the release reaches Python; a cleared (blank) drawing gets a clear message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.numpy import load_file

from conftest import served_script
from driver import expect_in_page_decoding, seven, stroke, wait_idle
from explorer.checkpoint import from_pretrained
from explorer.images import prepare_digit, to_uint8
from explorer.latent import decode
from ui.components.devserver import ROOT

pytestmark = pytest.mark.browser

DEMO = Path(__file__).with_name("live_draw_app.py")
READY = "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.path === 'wasm' && s.sessionReady)"
NAME = "conv-mnist5k"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory, component_assets) -> str:
    tmp = tmp_path_factory.mktemp("live-draw")
    with served_script(DEMO, tmp, {}, assets=component_assets) as url:
        yield url


def released(page, pattern: str = r"\{") -> dict | str:
    """The demo's released= caption once it matches `pattern` (waited for: the release's rerun takes its time on
    a loaded machine), parsed as JSON when it is an object."""
    page.get_by_text(re.compile(r"^released=" + pattern)).first.wait_for(timeout=60_000)
    wait_idle(page, 300)
    text = page.get_by_text("released=").first.inner_text().removeprefix("released=")
    return json.loads(text) if text.startswith("{") else text


def _draw_state(page) -> dict:
    return page.evaluate("""() => { const d = Object.values(window.__liveLatent.draw).at(-1);
        return { side: d.side, raster: Array.from(d.raster), prepared: Array.from(d.prepared), blank: d.blank }; }""")


def test_stroke_reconstructs_and_moves_the_marker_before_release(page, demo_url):
    model = from_pretrained(ROOT / "pretrained" / NAME)
    a = load_file(str(ROOT / "pretrained" / NAME / "analysis.safetensors"))
    page.goto(demo_url)
    page.wait_for_function(READY, timeout=180_000)
    wait_idle(page)
    expect_in_page_decoding(page)
    n0, before = stroke(page, seven())
    frames = page.evaluate(f"""() => window.__liveLatent.frames.slice({n0}, {before}).filter(f => f.mode === 'draw')
        .map(f => ({{ code: Array.from(f.code), pixels: Array.from(f.pixels), map: f.map, dragging: f.dragging,
                     prepared: Array.from(f.prepared), shape: f.shape }}))""")
    during = [f for f in frames if f["dragging"]]
    assert len(during) >= 5, f"only {len(during)} frames painted while drawing (before the release)"
    distinct_images = {bytes(np.asarray(f["pixels"], dtype=np.uint8)) for f in during}
    distinct_marks = {tuple(np.round(f["map"], 4)) for f in during}
    assert len(distinct_images) >= 3 and len(distinct_marks) >= 3, (len(distinct_images), len(distinct_marks))
    # each frame: code = the encoder's mean of the prepared input, marker = its PCA projection, image = its decode
    mean, comps = a["pca_mean"].astype(np.float64), a["pca_components"].astype(np.float64)
    picked = [during[0], during[len(during) // 2], during[-1]]
    xs = torch.tensor(np.asarray([f["prepared"] for f in picked], dtype=np.float32)).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        server_codes = model.encode_code(xs).flatten(1).numpy()
    server_images = decode(model, server_codes)
    for f, code, image in zip(picked, server_codes, server_images):
        assert np.allclose(f["code"], code, atol=1e-4), np.abs(np.asarray(f["code"]) - code).max()
        assert np.allclose(f["map"], (np.asarray(f["code"]) - mean) @ comps.T, atol=1e-4)
        want = to_uint8(image).reshape(28, 28).astype(np.int16)
        got = np.asarray(f["pixels"], dtype=np.int16).reshape(28, 28)
        assert np.abs(got - want).max() <= 1, f"page and server reconstruction differ by {np.abs(got - want).max()}"

    # the same strokes give the same 28x28 input on the page and on the server
    got = released(page)  # the release's rerun is done, and no stroke event waits for its frame
    state = _draw_state(page)
    raster = np.asarray(state["raster"], dtype=np.uint8).reshape(state["side"], state["side"])
    assert raster.max() == 255 and (raster > 0).mean() < 0.5  # white ink on black
    server = prepare_digit(raster.astype(np.float32) / 255, 28, 28)
    page_input = np.asarray(state["prepared"], dtype=np.float32).reshape(28, 28)
    assert server.sum() > 10 and np.abs(page_input - server).max() <= 1 / 255, np.abs(page_input - server).max()
    assert got == {"strokes": 1, "ink": round(float(server.sum()), 3), "side": state["side"]}

    # a second stroke adds to the drawing; Clear makes it blank, and the page and the server say so
    stroke(page, [(0.45, 0.5), (0.55, 0.5), (0.65, 0.5)])
    assert released(page, r'\{"strokes": 2')["strokes"] == 2
    page.get_by_test_id("live-latent-clear").click()
    assert released(page, "blank").startswith("blank: Blank: the drawing is blank")
    assert _draw_state(page)["blank"] is True
    assert "your drawing" not in page.get_by_test_id("live-latent-readout").inner_text()


def _rasters() -> list[np.ndarray]:
    """Rasters that take prepare_digit's paths: shrinking (BOX), growing (BILINEAR: a tiny mark), a paper level
    (the border's median is not 0), grey strokes, a stroke off the edge."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(16):
        side = [196, 64, 28, 120][i % 4]
        im = Image.new("L", (side, side), 0)
        d = ImageDraw.Draw(im)
        span = [1.0, 0.06, 0.5, 1.2][i % 4]
        for _ in range(int(rng.integers(1, 4))):
            pts = [tuple((rng.random(2) * side * span).tolist()) for _ in range(int(rng.integers(2, 5)))]
            d.line(pts, fill=int(rng.integers(90, 256)), width=int(rng.integers(1, max(2, side // 10))))
        r = np.asarray(im)
        out.append(np.maximum(r, 40).astype(np.uint8) if i % 5 == 2 else r)
    return out


def test_page_twin_of_prepare_digit_on_made_rasters(page, demo_url):
    page.goto(demo_url)
    page.wait_for_function("() => typeof window.__liveLatent?.prepareDigit === 'function'", timeout=180_000)
    rasters = _rasters()
    got = page.evaluate("""(cases) => cases.map(([r, side]) => Array.from(window.__liveLatent.prepareDigit(
        Float32Array.from(r, v => v / 255), side, side, 28, 28)))""",
                        [[r.reshape(-1).tolist(), r.shape[0]] for r in rasters])
    for raster, page_input in zip(rasters, got):
        want = prepare_digit(raster.astype(np.float32) / 255, 28, 28)
        diff = np.abs(np.asarray(page_input, dtype=np.float32).reshape(28, 28) - want).max()
        assert diff <= 1 / 255, f"the page's preparation differs from the server's by {diff} (side {raster.shape[0]})"
    assert sum(bool(np.any(g)) for g in got) >= 12  # the cases are drawings, not blanks


def test_without_webassembly_the_drawing_is_scored_on_release(page, demo_url):
    page.add_init_script("delete window.WebAssembly")
    page.goto(demo_url)
    page.get_by_text("path=fallback").wait_for(timeout=180_000)
    wait_idle(page)
    assert "the server reconstructs the drawing when you release" in page.get_by_test_id("live-latent-status").inner_text()
    n0, before = stroke(page, seven())
    assert before == n0  # nothing is encoded in the page
    got = released(page)
    assert got["strokes"] == 1 and got["ink"] > 10, got


def test_a_finger_draws_too(browser, demo_url):
    """Touch input (Chromium's own touch events through CDP: Playwright's page.touchscreen only taps) draws a
    stroke that is encoded while the finger moves and scored on lift."""
    ctx = browser.new_context(viewport={"width": 1000, "height": 900}, has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(90_000)
    page.goto(demo_url)
    page.wait_for_function(READY, timeout=180_000)
    wait_idle(page)
    box = page.locator("[data-testid='live-latent-draw']").first.bounding_box()
    cdp = ctx.new_cdp_session(page)
    n0 = page.evaluate("window.__liveLatent.frames.length")
    for i, (fx, fy) in enumerate(seven(24)):
        kind = "touchStart" if i == 0 else "touchMove"
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
            {"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]}]})
        page.wait_for_timeout(16)
    page.wait_for_timeout(150)
    during = page.evaluate(f"window.__liveLatent.frames.slice({n0}).filter(f => f.mode === 'draw' && f.dragging).length")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert during >= 3, f"only {during} frames while the finger was down"
    got = released(page)
    assert got["strokes"] == 1 and got["ink"] > 10, got
    ctx.close()
