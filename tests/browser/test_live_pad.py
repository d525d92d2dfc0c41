"""The live component's 2-D pad in a real page (tests/browser/live_pad_app.py in headless Chromium).

Dragging over the pad decodes in the page on the way (several frames before the release), the painted pixels
equal the server's decode of the frame's code, the code is start + x*c1 + y*c2 of the pointer's plane
position (which follows the pointer's place on the pad), the release reaches Python, and the dots are sent once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import served_script
from driver import LIVE_FIRST_FRAME, expect_in_page_decoding, wait_idle
from explorer.checkpoint import from_pretrained
from explorer.images import to_uint8
from explorer.latent import decode
from ui.components.devserver import ROOT
from ui.shared.pad import pad_extent

pytestmark = pytest.mark.browser

DEMO = Path(__file__).with_name("live_pad_app.py")
PAD = "[data-testid='live-latent-pad']"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory, component_assets) -> str:
    tmp = tmp_path_factory.mktemp("live-pad")
    with served_script(DEMO, tmp, {}, assets=component_assets) as url:
        yield url


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(LIVE_FIRST_FRAME, timeout=180_000)
    wait_idle(page)


def _drag(page, steps: int = 30, hz: float = 30.0) -> tuple[int, int, dict]:
    """Press near the pad's lower left, move diagonally to its upper right, release; returns (frames before the
    press, frames before the release, the pad's box)."""
    box = page.locator(PAD).first.bounding_box()
    x0, y0 = box["x"] + 0.2 * box["width"], box["y"] + 0.8 * box["height"]
    x1, y1 = box["x"] + 0.8 * box["width"], box["y"] + 0.25 * box["height"]
    page.mouse.move(x0, y0)
    page.wait_for_timeout(300)
    n0 = page.evaluate("window.__liveLatent.frames.length")
    page.mouse.down()
    for i in range(steps):
        t = (i + 1) / steps
        page.mouse.move(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        page.wait_for_timeout(1000 / hz)
    page.wait_for_timeout(150)
    before = page.evaluate("window.__liveLatent.frames.length")
    page.mouse.up()
    return n0, before, box


def _frames(page, start: int, stop: int) -> list[dict]:
    return page.evaluate(f"""() => window.__liveLatent.frames.slice({start}, {stop}).map(f => ({{
        code: Array.from(f.code), pixels: Array.from(f.pixels), shape: f.shape, dragging: f.dragging,
        mode: f.mode, pointer: f.pointer, client: f.client }}))""")


def _check_pointer(frames, box, ranges) -> None:
    """The plane position each frame reports is where its pointer event was on the pad (y up)."""
    (xlo, xhi), (ylo, yhi) = ranges
    for f in frames:
        if f["client"] is None:
            continue
        fx = (f["client"][0] - box["x"]) / box["width"]
        fy = (f["client"][1] - box["y"]) / box["height"]
        want = [xlo + fx * (xhi - xlo), yhi - fy * (yhi - ylo)]
        assert np.allclose(f["pointer"], want, atol=0.02 * (xhi - xlo)), (f["pointer"], want)


def test_drag_over_2d_latent_pad_decodes_like_the_server(page, demo_url):
    model = from_pretrained(ROOT / "pretrained" / "mlp-mnist5k-2d")
    means = load_file(str(ROOT / "pretrained" / "mlp-mnist5k-2d" / "analysis.safetensors"))["test_means"]
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    _open(page, demo_url)
    expect_in_page_decoding(page)
    # the test means are the pad's dots, received once
    dots = page.evaluate("() => [...window.__liveLatent.dots.values()].map(d => Array.from(d))")
    assert len(dots) == 1 and np.allclose(np.asarray(dots[0]).reshape(-1, 2), means)
    n0, before, box = _drag(page)
    frames = _frames(page, n0, before)
    during = [f for f in frames if f["dragging"] and f["mode"] == "pad"]
    assert len(during) >= 5, f"only {len(during)} frames painted during the drag (before the release)"
    ranges = pad_extent(means, floor=3.0)
    _check_pointer(during, box, ranges)
    for f in during:  # unit axes, start 0: the code is the pointer's plane position
        assert np.allclose(f["code"], f["pointer"], atol=1e-5)
    picked = [during[0], during[len(during) // 2], during[-1]]
    server = decode(model, np.asarray([f["code"] for f in picked], dtype=np.float32))
    for f, image in zip(picked, server):
        c, h, w = f["shape"]
        want = to_uint8(image).reshape(h, w, c).astype(np.int16)
        got = np.asarray(f["pixels"], dtype=np.int16).reshape(c, h, w).transpose(1, 2, 0)
        assert np.abs(got - want).max() <= 1, f"page and server differ by up to {np.abs(got - want).max()}"
    # the release reaches Python
    wait_idle(page, 800)
    released = json.loads(page.get_by_text("released=").first.inner_text().removeprefix("released="))
    assert np.allclose(released, during[-1]["pointer"], atol=0.05), (released, during[-1]["pointer"])
    # a rerun sends neither the decoder nor the dots again
    n = len(received)
    page.get_by_role("button", name="Rerun").click()
    wait_idle(page, 600)
    assert sum(received[n:]) < 8000, f"a rerun carried {sum(received[n:])} bytes"
    assert len(page.evaluate("window.__liveLatent.received")) == 1


def test_pca_pad_code_is_mean_plus_components(page, demo_url):
    model = from_pretrained(ROOT / "pretrained" / "conv-mnist5k")
    a = load_file(str(ROOT / "pretrained" / "conv-mnist5k" / "analysis.safetensors"))
    mean, comps = a["pca_mean"].astype(np.float64), a["pca_components"].astype(np.float64)
    _open(page, f"{demo_url}/?plane=pca")
    n0, before, box = _drag(page)
    during = [f for f in _frames(page, n0, before) if f["dragging"] and f["mode"] == "pad"]
    assert len(during) >= 5, f"only {len(during)} frames painted during the drag"
    _check_pointer(during, box, pad_extent(a["pca_coords"]))
    for f in during:
        x, y = f["pointer"]
        assert np.allclose(f["code"], mean + x * comps[0] + y * comps[1], atol=1e-4)
    f = during[-1]
    image = decode(model, np.asarray([f["code"]], dtype=np.float32))[0]
    c, h, w = f["shape"]
    want = to_uint8(image).reshape(h, w, c).astype(np.int16)
    got = np.asarray(f["pixels"], dtype=np.int16).reshape(c, h, w).transpose(1, 2, 0)
    assert np.abs(got - want).max() <= 1
