"""The Factors page in headless Chromium on the shipped single-object shapes model (its metrics stored by
`vae-evaluate --metrics disentanglement`): the metric table, the mutual-information heat map (a Plotly chart), the dimension labels
and a traversal row per dimension appear with no error, and "walk along this factor" opens the Latent walk with the
link state of that dimension."""

from __future__ import annotations

import re

import pytest

from driver import choose_model, go, image_src, open_app, shot, wait_idle
from tests.support import checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MODEL = "conv-shapes-single"


def test_factors_page_shows_heat_map_labels_and_traversals(page, app_url, shots):
    if MODEL not in checkpoints.shipped():
        pytest.fail(f"pretrained/{MODEL} is missing")
    open_app(page, app_url)
    choose_model(page, MODEL)
    go(page, "Factors")
    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=120_000)  # the heat map
    assert page.locator(".js-plotly-plot .heatmaplayer").count() >= 1
    for d in range(10):  # a traversal row per latent dimension, titled with what moves
        assert image_src(page, f"z{d}:")
    page.get_by_text(re.compile(r"stored in its metrics\.json, preset quick-dci")).first.wait_for(state="attached")
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlert']").filter(has_text=re.compile("could not|Error")).count() == 0
    shot(page, shots / "factors.png")
    page.get_by_role("button", name=re.compile(r"^Open the Latent walk on z\d+")).first.click()
    page.locator("h1").filter(has_text="Latent walk").first.wait_for(timeout=120_000)
    wait_idle(page)
    assert "axes=dims" in page.url and f"model={MODEL}" in page.url
    assert page.locator("[data-testid='stException']").count() == 0
