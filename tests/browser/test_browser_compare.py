"""The Compare page end to end in headless Chromium: the shipped mnist5k models beside a model trained elsewhere
(the ONNX pair at 1x28x28) are picked in the page's multiselect; each model's reconstruction of the same test
item, its row of prior samples, the metrics and loss-lab tables and the Plotly charts appear with no error; a
model of another image shape is refused with a message naming both shapes."""

from __future__ import annotations

import os
import re

import pytest

from conftest import start_app
from driver import add_model_to_compare, go, image_src, open_app, shot
from tests.support.ports import free_port
from tests.support.serve import stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("onnxruntime")

from tests.support.compare_models import onnx_models_folder  # noqa: E402  (shared with the AppTest)


@pytest.fixture(scope="module")
def compare_url(tmp_path_factory):
    """`streamlit run app.py` with pretrained/ and an ONNX pair in another models folder."""
    root = tmp_path_factory.mktemp("compare-browser")
    env = dict(os.environ, VAE_EXPLORER_MODELS=str(onnx_models_folder()), VAE_EXPLORER_CACHE=str(root / "cache"),
               VAE_EXPLORER_LIVE="off")
    port = free_port()
    proc = start_app(port, env, root / "streamlit.log")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def test_compare_page_shows_each_models_reconstruction(page, compare_url, shots):
    open_app(page, compare_url)
    go(page, "Compare")
    page.get_by_text("Pick at least two models").wait_for()  # the sidebar's model alone is preselected
    for name in ("mlp-mnist5k-2d", "onnx-mnist"):
        add_model_to_compare(page, name)
    # the first visit loads the ONNX pair (its files vetted in a child process) and scores it: slow on a busy machine
    sources = [image_src(page, f"reconstruction by {name}", timeout_ms=240_000)
               for name in ("conv-mnist5k", "mlp-mnist5k-2d", "onnx-mnist")]
    assert len(set(sources)) == 3
    assert image_src(page, "onnx-mnist #1")  # its prior samples
    # the ONNX pair's metrics are scored here (a grid cell: drawn on canvas, so attached rather than visible)
    page.get_by_text(re.compile(r"scored here: 100 test items")).first.wait_for(state="attached")
    page.get_by_role("heading", name="The loss lab's ranking of each reconstruction").wait_for()
    page.locator(".js-plotly-plot .main-svg").nth(5).wait_for()  # three KL bar charts and three maps
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlert']").filter(has_text=re.compile("could not|Error")).count() == 0
    shot(page, shots / "compare.png")
    add_model_to_compare(page, "conv-patches")
    page.locator("[data-testid='stAlert']").filter(
        has_text=re.compile(r"conv-patches takes 3 x 32 x 32 .* conv-mnist5k takes 1 x 28 x 28")).wait_for()
    assert image_src(page, "reconstruction by onnx-mnist")  # the others are still compared
    assert page.locator("[data-testid='stException']").count() == 0
