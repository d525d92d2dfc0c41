"""The real app's Latent map page with a 200,000-point stored encoding, drawn by the big map, in headless Chromium.

The app runs this checkout's component files (ui.components.devserver) with the tiny conv test model, whose cache holds
a 200,000-item encoding (tests/support/stored_encodings.py: the layout encode_dataset writes) and a real encoding
of mnist5k's test split. Hover shows the page's decode at once and the server's image after; a box dragged with
the mouse gives the count numpy's select_box finds on the same quantized coords, in the page and in Python's
counts; a clicked point sent to the walk starts the walk there; on the PCA map an empty spot decodes to the
server's decode of that spot's PCA inverse (uint8, +-1).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import served_script
from driver import choose, click_a_lone_point, go, wait_idle
from explorer.analysis.encode_dataset import load_encoded
from explorer.pca import fit_pca
from ui.components.bigmap import data_bounds, quantize, select_box
from ui.components.devserver import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 200_000
READY = "() => Object.values(window.__bigMap?.firstPaint ?? {}).some(f => f.tDrawn) && !!window.__bigMap.current()?.session"


@pytest.fixture(scope="module")
def big_app(browser_models, tmp_path_factory, component_assets):
    from tests.support.stored_encodings import real_encoding, spread_encoding

    tmp = tmp_path_factory.mktemp("map-big")
    model = browser_models["tiny-conv-mnist5k"]
    real = real_encoding(model, tmp / "cache")
    spread = spread_encoding(model, tmp / "cache", N, real)
    env = {"VAE_EXPLORER_MODELS": str(model.parent), "VAE_EXPLORER_CACHE": str(tmp / "cache"),
           "VAE_EXPLORER_DEFAULT_MODEL": model.name, "VAE_EXPLORER_LIVE": "on"}
    with served_script(ROOT / "app.py", tmp, env, assets=component_assets) as url:
        yield {"url": url, "model": model, "spread": spread}


@pytest.fixture(scope="module")
def points(big_app):
    enc = load_encoded(big_app["spread"])
    pca = fit_pca(enc.means)
    coords = pca.coords.astype(np.float32)
    return {"enc": enc, "pca": pca, "q": quantize(coords, data_bounds(coords))}


def _open_map(page, url: str) -> None:
    page.goto(url)
    page.locator("h1").first.wait_for()
    go(page, "Latent map")
    choose(page, "Points", f"spread{N} test split")
    page.wait_for_function(READY, timeout=240_000)
    wait_idle(page)


def _hover(page, x: float, y: float) -> dict:
    n0 = page.evaluate("window.__bigMap.hovers.length")
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=4)
    page.wait_for_function(f"window.__bigMap.hovers.length > {n0}", timeout=15_000)
    page.wait_for_timeout(200)
    return page.evaluate("window.__bigMap.hovers.at(-1)")


def _decoded_pixels(page) -> np.ndarray:
    got = page.get_by_test_id("big-map-decoded").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0))")
    return np.asarray(got, dtype=np.int16)


def test_hover_box_and_an_empty_pca_spot(tall, big_app, points):
    page = tall
    _open_map(page, big_app["url"])
    page.get_by_text(f"{N:,} items of spread{N} test").first.wait_for(timeout=60_000)
    q, labels = points["q"], points["enc"].labels
    members = np.flatnonzero(labels == 3)
    target = int(members[np.argmin(((q[members] - np.median(q[members], 0)) ** 2).sum(1))])
    where = page.evaluate(f"window.__bigMap.locate({target})")
    assert where["inside"], where
    last = _hover(page, where["x"], where["y"])
    assert last["how"] == "item" and last["index"] is not None  # the hovered item's own code
    assert last["tDrawn"] - last["tEvent"] < 1000
    caption = page.get_by_test_id("big-map-decoded-caption").inner_text()
    assert caption == f"item {last['index']}'s decoded code", caption
    assert _decoded_pixels(page).size == 28 * 28 and np.std(_decoded_pixels(page)) > 1
    page.wait_for_function(f"() => window.__bigMap.current().serverCaption.dataset.index === '{last['index']}'",
                           timeout=20_000)
    assert page.get_by_test_id("big-map-server-caption").inner_text() == f"item {last['index']}'s image (server)"

    box = page.get_by_test_id("big-map-overlay").bounding_box()
    page.get_by_test_id("big-map-box").click()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.30
    x1, y1 = box["x"] + box["width"] * 0.60, box["y"] + box["height"] * 0.65
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    heading = page.get_by_role("heading", name=re.compile(r"^Box selection: [\d,]+ points"))
    heading.wait_for(timeout=60_000)
    sel = page.evaluate("window.__bigMap.current().selection")
    inside = select_box(q, sel["qbox"])
    assert inside.size > 1000, inside.size
    assert sel["total"] == inside.size and sel["counts"] == np.bincount(labels[inside], minlength=10).tolist()
    assert heading.inner_text().startswith(f"Box selection: {inside.size:,} points")
    first = page.locator("[data-testid='stImageCaption']").filter(has_text=re.compile(rf"^{inside[0]}: {labels[inside[0]]}$"))
    first.first.wait_for(timeout=30_000)  # the gallery's first item
    _check_empty_spot(page, big_app, points)


def test_a_point_sent_to_the_walk_starts_it_there(tall, big_app, points):
    page = tall
    _open_map(page, big_app["url"])
    q = points["q"]
    _, pinned = click_a_lone_point(page, q)
    page.get_by_role("heading", name=re.compile(rf"^Item {pinned} ")).wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("big-map-walk").click()
    page.locator("h1").filter(has_text="Latent walk").first.wait_for(timeout=60_000)
    page.get_by_text(f"map point {pinned} of spread{N} test").first.wait_for(timeout=60_000)


def _check_empty_spot(page, big_app, points) -> None:
    """On the PCA map an empty spot decodes to the server's decode of its PCA inverse (uint8, +-1)."""
    import torch

    from explorer.checkpoint import from_pretrained
    from explorer.images import to_uint8
    from explorer.latent import decode

    head = page.evaluate("window.__bigMap.current().header")
    pca = points["pca"]
    assert np.allclose(head["pca_mean"], pca.mean) and np.allclose(head["pca_components"], pca.components)
    box = page.get_by_test_id("big-map-overlay").bounding_box()
    spot = None
    for fx, fy in [(0.03, 0.5), (0.97, 0.5), (0.03, 0.05), (0.97, 0.95), (0.1, 0.5), (0.9, 0.5)]:
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        last = _hover(page, x, y)
        if last["how"] == "pca" and last["index"] is None:
            spot = last
            break
    assert spot is not None, "no empty spot found at the canvas's edges"
    assert page.get_by_test_id("big-map-decoded-caption").inner_text() == "decoded at the pointer (PCA inverse)"
    got = _decoded_pixels(page)
    code = pca.mean + spot["pos"][0] * pca.components[0] + spot["pos"][1] * pca.components[1]
    model = from_pretrained(big_app["model"])
    want = to_uint8(decode(model, torch.tensor(code, dtype=torch.float32)[None])[0]).astype(np.int16).reshape(-1)
    assert np.abs(got - want).max() <= 1, np.abs(got - want).max()
