"""The app's Latent walk decodes in the browser (frontend/src/live_latent) and keeps its state in the URL, in headless Chromium.

The app runs with this checkout's component files (ui.components.devserver: a pip --target install of frontend/assets
added with site.addsitedir), and the shipped conv-mnist5k, whose decoder the page exports on first use.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from driver import LIVE_FIRST_FRAME, go, seven, stroke, wait_idle
from ui.components.devserver import ROOT

pytestmark = pytest.mark.browser

LIVE = "Decoding in your browser (onnxruntime-web, wasm)"


@pytest.fixture(scope="module")
def live_app_url(shipped_live_url) -> str:
    return shipped_live_url


def _wait_live(page) -> None:
    page.get_by_text(LIVE).first.wait_for(timeout=180_000)
    page.wait_for_function(LIVE_FIRST_FRAME, timeout=180_000)
    wait_idle(page)


def _last_pixels(page) -> np.ndarray:
    return np.asarray(page.evaluate("Array.from(window.__liveLatent.frames.at(-1).pixels)"), dtype=np.int16)


def _last_frame(page) -> dict:
    """The last painted frame's slider values (K,) and code (D,)."""
    return page.evaluate("(() => { const f = window.__liveLatent.frames.at(-1);"
                         " return {values: Array.from(f.values), code: Array.from(f.code)}; })()")


def _server_pixels(model, code, condition: int | None = None) -> np.ndarray:
    """The server's decode of one code as the page's 0-255 pixels, flattened."""
    import torch

    with torch.inference_mode():
        image = model.decode_code(torch.as_tensor(np.asarray(code), dtype=torch.float32)[None], condition=condition)[0]
    return np.round(image.numpy().reshape(-1) * 255).astype(np.int16)


def _drag(page, index: int, dx: float, steps: int = 20) -> None:
    box = page.locator("input[type=range]").nth(index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(steps):
        page.mouse.move(x + (i + 1) * dx / steps, y)
        page.wait_for_timeout(16)
    page.wait_for_timeout(150)
    page.mouse.up()


def test_walk_decodes_in_the_browser_and_a_copied_link_shows_the_same_image(browser, live_app_url):
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    page.set_default_timeout(120_000)
    page.goto(live_app_url)
    page.locator("h1").first.wait_for()
    go(page, "Latent walk")
    _wait_live(page)
    assert page.get_by_text("decoded mean").count() == 0  # no server image: the canvas is the image
    n0 = page.evaluate("window.__liveLatent.frames.length")
    _drag(page, 0, 90)
    # the release's rerun must give the page the released values, not the ones before (which it would paint)
    page.wait_for_function("() => Math.abs(Number(new URL(location.href).searchParams.get('v')?.split(',')[0])) > 0.1")
    wait_idle(page, 800)
    _drag(page, 1, -60)
    during = page.evaluate("n => window.__liveLatent.frames.slice(n).filter(f => f.dragging).length", n0)
    assert page.evaluate("window.__liveLatent.frames.length") - n0 >= 5 and during >= 1
    page.wait_for_function("() => new URL(location.href).searchParams.get('v')?.split(',').slice(0, 2)"
                           ".every(x => Math.abs(Number(x)) > 0.1)", timeout=60_000)
    wait_idle(page, 800)
    want = _last_pixels(page)
    query = parse_qs(urlparse(page.url).query)
    assert query["model"] == ["conv-mnist5k"] and query["start"] == ["prior"], query
    link = page.url

    second = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = second.new_page()
    other.set_default_timeout(120_000)
    other.goto(link)
    _wait_live(other)
    got = _last_pixels(other)
    assert got.shape == want.shape
    diff = np.abs(got - want)
    seen = [page.evaluate("Array.from(window.__liveLatent.frames.at(-1).values)"),
            other.evaluate("Array.from(window.__liveLatent.frames.at(-1).values)"), link]
    assert diff.max() <= 1, f"the link decodes differently: up to {diff.max()} {seen}"
    values = other.evaluate("Array.from(window.__liveLatent.frames.at(-1).values)")
    assert abs(values[0]) > 0.1 and abs(values[1]) > 0.1, values
    first.close()
    second.close()


def test_out_of_range_link_is_clamped_with_a_message(browser, live_app_url):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{live_app_url}/walk?model=conv-mnist5k&start=prior&axes=dims&n=2&v=12,-0.5")
    page.get_by_text("were clamped to the range").first.wait_for()
    _wait_live(page)
    values = page.evaluate("Array.from(window.__liveLatent.frames.at(-1).values)")
    assert values == [4.0, -0.5], values
    ctx.close()


def test_an_attribute_direction_link_decodes_in_the_browser(browser, live_app_url):
    """A "3 → 8" slider from a link: the page's code is the prior mean plus the whole class-mean difference, and
    its pixels are the server's decode of that code."""
    from safetensors.numpy import load_file

    from explorer.checkpoint import from_pretrained

    folder = ROOT / "pretrained" / "conv-mnist5k"
    arrays = load_file(str(folder / "analysis.safetensors"))
    means, labels = arrays["test_means"].astype(np.float64), arrays["test_labels"]
    shift = means[labels == 8].mean(0) - means[labels == 3].mean(0)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{live_app_url}/walk?model=conv-mnist5k&start=prior&axes=attr&dirs=3%3E8&n=1&v=1")
    _wait_live(page)
    page.get_by_text("3 → 8").first.wait_for()
    frame = _last_frame(page)
    assert frame["values"] == [1.0], frame["values"]
    np.testing.assert_allclose(frame["code"], shift, rtol=1e-4, atol=1e-5)
    want = _server_pixels(from_pretrained(folder, "cpu"), shift)
    got = _last_pixels(page)
    assert got.shape == want.shape and np.abs(got - want).max() <= 2, np.abs(got - want).max()
    ctx.close()


def test_drawing_on_reconstruct_is_scored_and_starts_the_walk(browser, live_app_url):
    """Reconstruct's "Draw" input: a stroke reconstructs in the page while drawing; the release is scored by the
    server (ELBO, IWAE, percentile) on its own preparation of the raster; "Use as walk start" starts the walk at
    the drawing's code; a cleared drawing says it is blank and the page keeps working."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(live_app_url)
    page.locator("h1").first.wait_for()
    go(page, "Reconstruct")
    page.get_by_test_id("stRadio").get_by_text("Draw", exact=True).click()
    page.wait_for_function("() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.path === 'wasm' && s.sessionReady)",
                           timeout=180_000)
    wait_idle(page)
    n0, before = stroke(page, seven())
    assert page.evaluate(f"window.__liveLatent.frames.slice({n0}, {before}).filter(f => f.mode === 'draw' && f.dragging).length") >= 3
    page.get_by_text("Your drawing").first.wait_for()
    # the scores follow the drawing in the same run, but a loaded machine may paint them after an idle check
    page.get_by_test_id("stMetricLabel").filter(has_text="ELBO").first.wait_for()
    wait_idle(page, 800)
    metrics = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert "ELBO" in metrics and any(m.startswith("IWAE") for m in metrics), metrics
    page.get_by_text("Where it falls:").first.wait_for(timeout=60_000)
    assert page.get_by_text("Where it falls:").count() == 1
    page.get_by_test_id("live-latent-clear").click()
    page.get_by_text("the drawing is blank").first.wait_for()
    wait_idle(page)
    assert page.get_by_test_id("stException").count() == 0
    stroke(page, seven())
    page.get_by_role("button", name="Use as walk start").click()
    page.locator("h1").filter(has_text="Latent walk").first.wait_for()
    page.get_by_text("Start: your drawing").first.wait_for()
    _wait_live(page)
    assert page.get_by_test_id("stException").count() == 0
    ctx.close()


@pytest.mark.parametrize("name, condition", [("cvae-mnist5k", 3), ("cvae-mnist5k", 7), ("conv-iaf-mnist5k", None),
                                             ("vaegan-mnist5k", None)])
def test_issue_12_families_decode_in_the_browser_as_the_server_does(browser, live_app_url, name, condition):
    """The new families' walks in the page: the CVAE under the link's class (its label a decoder input, baked into
    the exported graph), the IAF model and the VAE/GAN; each frame's pixels are the server's decode of its code."""
    from explorer.checkpoint import from_pretrained

    folder = ROOT / "pretrained" / name
    if not (folder / "config.json").is_file():
        pytest.skip(f"pretrained/{name} is not here")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    label = "" if condition is None else f"&class={condition}"
    page.goto(f"{live_app_url}/walk?model={name}&start=prior&axes=dims&n=2&v=1.5,-1{label}")
    _wait_live(page)
    frame = _last_frame(page)
    assert frame["values"] == [1.5, -1.0], frame["values"]
    model = from_pretrained(folder, "cpu").eval()
    want = _server_pixels(model, frame["code"], condition)
    got = _last_pixels(page)
    assert got.shape == want.shape and np.abs(got - want).max() <= 2, np.abs(got - want).max()
    if condition is not None:  # another class decodes the same code to another digit
        other = _server_pixels(model, frame["code"], (condition + 5) % 10)
        assert np.abs(other - got).mean() > 10
    assert page.get_by_test_id("stException").count() == 0
    ctx.close()


# Sampled on every animation frame from the first paint: how many of the walk's sliders each side shows (the
# server's, matched by the component's own labels), whether the component shows a decoded image, and whether a
# visible caption says the in-browser decoder is loading.
SAMPLE_CONTROLS = """(() => {
  window.__walkSamples = [];
  const shown = (e) => !!e && e.isConnected && e.getClientRects().length > 0;
  const tick = () => {
    const G = window.__liveLatent;
    const insts = [...(G?.mounted ?? [])].filter((i) => i.root.isConnected);
    const labels = new Set(insts.flatMap((i) => [...i.root.querySelectorAll("input[type=range]")].map((r) => r.ariaLabel)));
    const server = [...document.querySelectorAll("[data-testid='stSlider']")].filter((s) => shown(s) &&
      labels.has(s.querySelector("[data-testid='stWidgetLabel']")?.textContent.trim())).length;
    const page = insts.reduce((n, i) => n + [...i.root.querySelectorAll("input[type=range]")].filter(shown).length, 0);
    const image = insts.some((i) => i.firstFrame !== null && shown(i.canvas) && !i.canvas.hidden);
    const loading = [...document.querySelectorAll("[data-testid='stCaptionContainer']")].some((c) =>
      shown(c) && c.textContent.includes("in-browser decoder is loading"));
    window.__walkSamples.push({ t: performance.now(), server, page, image, loading });
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""


def test_a_first_visit_shows_one_set_of_walk_controls_at_a_time(browser, live_app_url):
    """From the first paint until the in-browser decoder has drawn and the page has settled, no sampled frame
    shows the component's sliders beside the server's, nor the server's "decoder is loading" note beside the
    component's image; the component's sliders end up the only ones."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.add_init_script(SAMPLE_CONTROLS)
    page.goto(f"{live_app_url}/walk")
    _wait_live(page)
    page.wait_for_timeout(1500)
    samples = page.evaluate("window.__walkSamples")
    ctx.close()
    both = [s for s in samples if s["server"] and s["page"]]
    stale_note = [s for s in samples if s["loading"] and s["image"]]
    assert len(samples) > 30 and not both and not stale_note, (len(samples), both[:3], stale_note[:3])
    assert samples[-1]["page"] > 0 and samples[-1]["server"] == 0 and samples[-1]["image"]
