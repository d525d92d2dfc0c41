"""Visits to a page and back keep nothing of the page left behind (ui/app/pagestyle.py): after a warm-up that creates
every kind of element once, more rounds of upload -> Latent walk -> Reconstruct leave the page's live DOM node
count where it was. Before the app's style sheet turned expander transitions off, each round kept the whole
Reconstruct page (+150-210 nodes, measured with the same loop)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.support.bad_files import digit_like, encode
from driver import dom_nodes, go, open_app, upload_in_page

pytestmark = pytest.mark.browser

WARM_UP, ROUNDS = 2, 4


def test_rounds_of_upload_and_page_change_keep_no_page_alive(page, app_url):
    open_app(page, app_url)
    png = encode(Image.fromarray(digit_like(28)))

    def round_trip(i: int) -> None:
        upload_in_page(page, f"digit-{i}.png", png)
        page.get_by_role("heading", name=f"digit-{i}.png").wait_for()
        go(page, "Latent walk")
        go(page, "Reconstruct")

    for i in range(WARM_UP):
        round_trip(i)
    before = dom_nodes(page)
    for i in range(WARM_UP, WARM_UP + ROUNDS):
        round_trip(i)
    grown = dom_nodes(page) - before
    # a kept page is ~150-210 nodes a round; a few nodes of slack for Streamlit's own bookkeeping
    assert grown < 60, f"{grown} more live DOM nodes after {ROUNDS} rounds (from {before})"
