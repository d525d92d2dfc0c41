"""The spatial studio's walk in the page, on the shipped teacher (pretrained/kl-f4-photos) in headless Chromium: a
drag of a channel-space direction paints linear-tier frames before the release, a stand-in student decoder's frames
(tier b, in a Web Worker) replace them while dragging, the full decode replaces them after the release, and the
page's label names each; a painted region is what the release sends, and its full decode follows.

The app runs this checkout's built assets (the component_assets fixture: pip --target into a folder keyed by their
content, put first on the path), not the editable install of another checkout.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from driver import IDLE, shot
from tests.support.foreign_models import torchscript_onnx_export
from tests.support.ports import free_port
from tests.support.serve import start_streamlit, stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("diffusers")

TEACHER = ROOT / "pretrained" / "kl-f4-photos"
COPY = "kl-f4-photos-copy"
TIER = "[data-testid='spatial-live-tier']"
FRAMES = "window.__spatialLive ? window.__spatialLive.frames : []"


@pytest.fixture(scope="module")
def teacher_url(tmp_path_factory, component_assets):
    tmp = tmp_path_factory.mktemp("spatial-live")
    models = tmp / "models"
    models.mkdir()
    # a copy under its own name (the app also lists pretrained/, whose teacher has no student), the student beside it
    shutil.copytree(TEACHER, models / COPY)
    _student_decoder(models / f"{COPY}-student" / "decoder.onnx")
    env = dict(os.environ, VAE_EXPLORER_MODELS=str(models), VAE_EXPLORER_CACHE=str(tmp / "cache"),
               VAE_EXPLORER_LIVE="on")
    port = free_port()
    proc = start_streamlit(ROOT / "app.py", port, tmp / "streamlit.log", env=env, site=component_assets)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def _student_decoder(path: Path) -> None:
    """A stand-in student decoder as ONNX (the page's decoder contract, as vae-distill exports its student: the flat
    code (1, 4 * h * w) in, an image (1, 3, 4h, 4w) in [0, 1] out), random weights: the test checks the tier, not the
    picture."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Unflatten(1, (4, 16, 16)), nn.Conv2d(4, 8, 3, padding=1), nn.Upsample(scale_factor=4),
                        nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid()).eval()
    path.parent.mkdir(parents=True)
    torchscript_onnx_export(net, torch.zeros(1, 4 * 16 * 16), path, input_names=["code"], output_names=["image"])


def _open_walk(page, url: str) -> None:
    page.goto(f"{url}/walk?model={COPY}")
    page.wait_for_selector(IDLE, state="attached", timeout=180_000)
    page.locator(TIER).filter(has_text=re.compile("^full decode")).wait_for(timeout=180_000)
    page.wait_for_selector(IDLE, state="attached", timeout=180_000)  # the rerun the element's first status asks for


def _slider_drag(page, axis: int, to_fraction: float, steps: int = 20) -> None:
    """Press on slider `axis`'s thumb (its middle: value 0), move to `to_fraction` of its width in `steps` moves at
    about 60 Hz, and hold (no release)."""
    slider = page.locator(f"input[data-axis='{axis}']").first
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x0 = box["x"] + box["width"] / 2
    page.mouse.move(x0, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (to_fraction - 0.5) * box["width"] * i / steps, y)
        page.wait_for_timeout(16)


def test_a_drag_shows_linear_frames_then_the_full_decode(page, teacher_url, shots: Path):
    _open_walk(page, teacher_url)
    assert page.locator("[data-testid='stException']").count() == 0
    # the caption names the tiers this model has: a student here, so the distilled preview too
    distilled = page.get_by_text(re.compile("replaced as its frames arrive by the distilled preview"))
    distilled.first.wait_for(timeout=60_000)
    assert distilled.count() == 1
    before = page.evaluate(f"({FRAMES}).length")
    _slider_drag(page, 0, 0.9)
    # the Web Worker's frame (tier b) lands: its first one waits for onnxruntime-web to load in the worker
    page.wait_for_function(f"({FRAMES}).slice({before}).some(f => f.tier === 'student')", timeout=60_000)
    assert page.locator(TIER).inner_text().startswith(("linear preview", "distilled preview"))
    dragged = page.evaluate(f"({FRAMES}).slice({before})")
    linear = [f for f in dragged if f["tier"] == "linear" and f["why"] == "slider"]
    assert len(linear) >= 10, f"{len(linear)} linear frames for 20 pointer moves"
    assert all(f["dragging"] for f in linear)
    assert not [f for f in dragged if f["tier"] == "full"], "a full decode arrived before the release"
    student = [f for f in dragged if f["tier"] == "student"]  # the stand-in student decodes in a Web Worker
    assert student and student[-1]["tDrawn"] > linear[0]["tDrawn"], "no distilled frame replaced the linear ones"
    shot(page, shots / "dragging.png")
    page.mouse.up()
    page.locator(TIER).filter(has_text=re.compile("^full decode")).wait_for(timeout=120_000)
    after = page.evaluate(f"({FRAMES}).slice({before})")
    full = [f for f in after if f["tier"] == "full"]
    assert full and full[-1]["nonce"] >= 1 and full[-1]["values"][0] > 1.0
    # the label follows the canvas: the last frame is the full one, after every linear frame of the drag
    assert after[-1]["tier"] == "full" and after[-1]["tDrawn"] > linear[-1]["tDrawn"]
    assert page.locator("[data-testid='stException']").count() == 0
    shot(page, shots / "released.png")


def test_a_painted_region_goes_with_the_release(page, teacher_url):
    _open_walk(page, teacher_url)
    page.get_by_test_id("spatial-live-brush-on").check()
    page.get_by_test_id("spatial-live-brush").scroll_into_view_if_needed()
    box = page.get_by_test_id("spatial-live-brush").bounding_box()
    before = page.evaluate(f"({FRAMES}).length")
    page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.25 * box["height"])
    page.mouse.down()
    for i in range(10):
        page.mouse.move(box["x"] + (0.25 + 0.02 * i) * box["width"], box["y"] + 0.3 * box["height"])
        page.wait_for_timeout(16)
    page.mouse.up()
    painted = page.evaluate(f"({FRAMES}).slice({before})")
    assert any(f["why"] == "brush" and f["tier"] == "linear" for f in painted)
    page.locator(TIER).filter(has_text=re.compile("^full decode")).wait_for(timeout=120_000)
    before = page.evaluate(f"({FRAMES}).length")
    _slider_drag(page, 1, 0.95, steps=10)
    page.mouse.up()
    page.locator(TIER).filter(has_text=re.compile("^full decode")).wait_for(timeout=120_000)
    frames = page.evaluate(f"({FRAMES}).slice({before})")
    assert [f for f in frames if f["tier"] == "linear"] and frames[-1]["tier"] == "full"
    assert page.locator("[data-testid='stException']").count() == 0
