"""The codebook panel in headless Chromium on the shipped vq-mnist5k: a click on a cell of the code grid chart
picks that cell (the Row and Column inputs follow), and a new code for it changes the server's decode."""

from __future__ import annotations

import pytest
from driver import choose_model, go, image_src, open_app, shot, wait_idle

from tests.support import checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shipped_url(app_url):
    """The session's app server (tests/browser/conftest.py's app_url: pretrained/ and the tiny test checkpoints,
    decoding on the server), when the shipped vq-mnist5k is here."""
    if "vq-mnist5k" not in checkpoints.shipped():
        pytest.skip("pretrained/vq-mnist5k is not here")
    return app_url


def test_a_click_on_a_cell_picks_it_and_a_new_code_changes_the_decode(page, shipped_url, shots):
    open_app(page, shipped_url)
    choose_model(page, "vq-mnist5k")
    go(page, "Latent walk")
    page.get_by_role("heading", name="Edit an image's code grid").wait_for(timeout=180_000)
    wait_idle(page, 800)
    chart = page.locator("[data-testid='stPlotlyChart']").nth(2)  # the histogram, the codebook map, the grid
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    # the 7 x 7 grid fills the plot area: click the centre of cell (1, 5)
    page.mouse.click(box["x"] + box["width"] * 5.5 / 7, box["y"] + box["height"] * 1.5 / 7)
    wait_idle(page, 800)
    row = page.get_by_role("spinbutton", name="Row (0 to 6)")
    col = page.get_by_role("spinbutton", name="Column (0 to 6)")
    shot(page, shots / "clicked.png")
    assert (row.input_value(), col.input_value()) == ("1", "5")
    before = image_src(page, "decode with cell (1, 5) set to code")
    code = page.get_by_role("spinbutton", name="New code for that cell (0 to 511)")
    code.fill(str((int(code.input_value()) + 256) % 512))
    code.press("Enter")
    wait_idle(page, 800)
    assert image_src(page, "decode with cell (1, 5) set to code") != before
