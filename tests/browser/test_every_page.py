"""Every page the navigation lists (ui/main.py's PAGES and CAPTIONS), visited in headless Chromium at 1280 px wide
and laid out at 1280 and 1400, before and after an upload on Reconstruct and Compare: no text is cut off or set under 12 px
(tests/support/cutoff.py), and no request goes to any host but 127.0.0.1 (every other one is aborted and listed).

The session's `streamlit run app.py` with the shipped models (shipped_live_url) serves the module, and one tour,
resized to each width on every page, serves both tests.
"""

from __future__ import annotations

import pytest
from PIL import Image

from tests.browser.driver import choose_model, go, open_app, upload, wait_idle
from tests.support import checkpoints
from tests.support.bad_files import digit_like, encode
from tests.support.cutoff import cut_text
from tests.support.offline import block_foreign
from ui.main import CAPTIONS, PAGES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1280, 1400)
NAVIGATION = [(title, url) for _, title, _, url in [*PAGES, CAPTIONS]]
UPLOADS = {"reconstruct": "Upload images", "compare": "Upload an image"}  # pages with an upload: their radio option
CAPTIONER = "pu-shapes"  # a shipped model the Captions page is offered for


@pytest.fixture(scope="module")
def shipped_url(shipped_live_url) -> str:
    """The app with pretrained/ alone, the in-browser walk on, as a user gets it (tests/browser/conftest.py)."""
    missing = [n for n in ("conv-mnist5k", "mlp-mnist5k-2d", CAPTIONER) if n not in checkpoints.shipped()]
    if missing:
        pytest.fail(f"shipped checkpoints missing from pretrained/: {missing}")
    return shipped_live_url


# the page has drawn its last rerun: no element left stale, every image loaded
SETTLED_JS = """() => !document.querySelector("[data-stale='true']") && [...document.images].every((i) => i.complete)"""


def _settle(pg) -> None:
    wait_idle(pg, 300)
    pg.wait_for_function(SETTLED_JS)
    pg.wait_for_timeout(250)  # charts and components that draw after their element mounts


def _visit(pg, url_path: str, title: str) -> None:
    go(pg, title)
    if url_path == "compare":  # two models, so that the page shows its tables, charts and upload
        pg.get_by_role("combobox", name="Models to compare").click()
        pg.keyboard.type("mlp-mnist5k-2d")  # the list is virtualised: only the first few options are drawn
        pg.get_by_role("option").filter(has_text="mlp-mnist5k-2d").first.click()
        pg.keyboard.press("Escape")
    _settle(pg)


def _resize(pg, width: int) -> None:
    pg.set_viewport_size({"width": width, "height": 1000})
    pg.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    pg.wait_for_timeout(300)  # charts and components follow the window's resize event


def _at_widths(pg, cut: dict, key: tuple[str, str], listed: dict | None = None) -> None:
    """cut[width][key] = the text cut off at each of WIDTHS: the page as drawn at the window's width, then with the
    window resized to each other width, where it stays (Streamlit lays a page out in CSS: a resize reruns no
    script). The pages thus alternate between being drawn at a width and being resized to it.
    listed: also listed[width] = the navigation's entries at each width."""
    def read(width: int) -> None:
        cut[width][key] = cut_text(pg)
        if listed is not None:
            listed[width] = pg.locator("[data-testid='stSidebarNav'] a").all_inner_texts()  # "icon\n\nTitle"

    first = pg.viewport_size["width"]
    read(first)
    for width in WIDTHS:
        if width != first:
            _resize(pg, width)
            read(width)


@pytest.fixture(scope="module")
def tours(browser, shipped_url) -> dict:
    """Per width: {"cut": {(page, moment): cut-off text}, "foreign": [URLs], "listed": [nav titles]}.

    One tour (a page at a time, before and after its upload) checks each page at every width: the page is drawn at
    the window's width, as a user opening it at that width gets it, then the window is resized to the other (a
    second tour would rerun every page's script for the same content)."""
    ring = ("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")
    ctx = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    seen: list[str] = []
    block_foreign(pg, {"127.0.0.1"}, seen)
    cut: dict[int, dict[tuple[str, str], list[dict]]] = {width: {} for width in WIDTHS}
    open_app(pg, shipped_url)
    choose_model(pg, CAPTIONER)  # the navigation lists Captions for it: that page first, then the others for conv
    listed: dict[int, list[str]] = {}
    for title, url_path in sorted(NAVIGATION, key=lambda page: page[1] != "captions"):
        if url_path != "captions" and not pg.get_by_role("combobox", name="Checkpoint").input_value().startswith(
                "conv-mnist5k"):
            choose_model(pg, "conv-mnist5k")
        _visit(pg, url_path, title)
        _at_widths(pg, cut, (url_path, "first visit"), listed if url_path == "captions" else None)
        if url_path in UPLOADS:
            pg.get_by_text(UPLOADS[url_path]).first.click()
            wait_idle(pg, 300)
            upload(pg, [ring])
            _settle(pg)
            _at_widths(pg, cut, (url_path, "after an upload"))
    ctx.close()
    return {width: {"cut": cut[width], "foreign": seen, "listed": listed[width]} for width in WIDTHS}


@pytest.mark.parametrize("width", WIDTHS)
def test_no_text_is_cut_off_or_too_small_on_any_page(tours, width):
    tour = tours[width]
    assert [t.strip().splitlines()[-1] for t in tour["listed"]] == [title for title, _ in NAVIGATION]
    assert len(tour["cut"]) == len(NAVIGATION) + len(UPLOADS)
    bad = {f"{page} ({moment})": found for (page, moment), found in tour["cut"].items() if found}
    assert not bad, bad


def test_no_page_fetches_from_another_host(tours):
    for width in WIDTHS:
        assert tours[width]["foreign"] == [], tours[width]["foreign"]
