"""The big-map component in a real page (tests/browser/bigmap_demo_app.py, 200,000 points, headless Chromium).

Hover shows the page's decode at once and the server's image of the hovered item after; a box drawn with the
mouse reports the count numpy finds on the same (quantized) coords; a clicked point's index and "Send to walk"
come back to Python; the points cross the websocket in at most 12 bytes a point, once; nothing is fetched
from another host.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.support.bigmap_points import clustered
from tests.support.offline import LOCAL_HOSTS, block_foreign
from conftest import served_script
from driver import click_a_lone_point, expect_in_page_decoding, wait_idle
from ui.components.bigmap import data_bounds, quantize, select_box


pytestmark = pytest.mark.browser

DEMO = Path(__file__).with_name("bigmap_demo_app.py")
N = 200_000
READY = "() => Object.values(window.__bigMap?.firstPaint ?? {}).some(f => f.tDrawn) && !!window.__bigMap.current()?.session"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory, component_assets) -> str:
    tmp = tmp_path_factory.mktemp("bigmap-demo")
    with served_script(DEMO, tmp, {}, assets=component_assets) as url:
        yield url


@pytest.fixture(scope="module")
def routed_url(tmp_path_factory, component_assets) -> str:
    """The demo inside st.App with ui/itemserver's route, as `vae-explorer` serves the dashboard."""
    tmp = tmp_path_factory.mktemp("bigmap-demo-routed")
    with served_script(DEMO.with_name("bigmap_demo_serve.py"), tmp, {}, assets=component_assets) as url:
        yield url


@pytest.fixture(scope="module")
def points():
    coords, labels, _ = clustered(N)
    bounds = data_bounds(coords)
    return coords, labels, bounds, quantize(coords, bounds)


def _open(page, url: str) -> None:
    page.goto(f"{url}/?n={N}")
    page.wait_for_function(READY, timeout=240_000)
    wait_idle(page)


def _caption(page, prefix: str) -> str:
    return page.get_by_text(prefix).first.inner_text().removeprefix(prefix)


def _canvas_box(page) -> dict:
    return page.get_by_test_id("big-map-overlay").bounding_box()


def _dense_index(q: np.ndarray, labels: np.ndarray, label: int) -> int:
    """An item near the middle of a cluster (the median point of label `label`)."""
    members = np.flatnonzero(labels == label)
    med = np.median(q[members].astype(np.float64), axis=0)
    return int(members[np.argmin(((q[members] - med) ** 2).sum(1))])


def test_hover_shows_the_page_decode_then_the_server_image(tall, demo_url, points):
    page = tall
    blocked = block_foreign(page)
    _open(page, demo_url)
    expect_in_page_decoding(page)
    coords, labels, bounds, q = points
    target = _dense_index(q, labels, 3)
    where = page.evaluate(f"window.__bigMap.locate({target})")
    assert where["inside"], where
    n0 = page.evaluate("window.__bigMap.hovers.length")
    page.mouse.move(where["x"] - 30, where["y"] - 30)
    page.mouse.move(where["x"], where["y"], steps=4)
    page.wait_for_function(f"window.__bigMap.hovers.length > {n0}", timeout=10_000)
    hovers = page.evaluate(f"window.__bigMap.hovers.slice({n0})")
    latency = [h["tDrawn"] - h["tEvent"] for h in hovers]
    assert max(latency) < 1000, latency
    last = hovers[-1]
    assert last["how"] == "pca" and last["index"] is not None
    caption = page.get_by_test_id("big-map-decoded-caption").inner_text()
    assert caption.startswith("decoded at the pointer (PCA inverse)"), caption
    # the decoded digit is an image, not a blank canvas
    pixels = page.get_by_test_id("big-map-decoded").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0))")
    assert len(pixels) == 28 * 28 and np.std(pixels) > 10
    # the hovered item's own image follows from the server, labelled as such
    hovered = last["index"]
    page.wait_for_function(f"""() => {{
        const i = window.__bigMap.current(); return i && i.serverCaption.dataset.index === '{hovered}'; }}""",
                           timeout=15_000)
    server = page.get_by_test_id("big-map-server-caption").inner_text()
    assert server == f"item {hovered}'s image (server)"
    assert page.get_by_test_id("big-map-server-image").get_attribute("src").startswith("data:image/png;base64,")
    # the hovered item is the nearest to the pointer (within the hover radius, in quantized units)
    s = page.evaluate("window.__bigMap.current().view.s")
    assert np.hypot(*(q[hovered].astype(float) - q[target].astype(float))) * s <= 10
    assert blocked == [], f"requests to other hosts: {blocked}"
    urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(urlparse(u).hostname in LOCAL_HOSTS for u in urls if u.startswith("http")), urls


def test_box_selection_counts_match_numpy(tall, demo_url, points):
    page = tall
    _open(page, demo_url)
    coords, labels, bounds, q = points
    box = _canvas_box(page)
    page.get_by_test_id("big-map-box").click()
    x0, y0 = box["x"] + box["width"] * 0.30, box["y"] + box["height"] * 0.25
    x1, y1 = box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.70
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    page.get_by_text('selection={"kind": "box"').wait_for(timeout=30_000)
    wait_idle(page)
    got = json.loads(_caption(page, "selection="))
    sel = page.evaluate("window.__bigMap.current().selection")
    inside = select_box(q, sel["qbox"])
    assert got["total"] == sel["total"] == inside.size == got["python_total"]
    assert inside.size > 10_000, inside.size
    assert sel["counts"] == np.bincount(labels[inside], minlength=10).tolist()
    assert sel["first"] == inside[:len(sel["first"])].tolist()
    # the same box in data units, on the float32 coords: equal up to the quantization at the edges
    bx0, by0, bx1, by1 = sel["box"]
    raw = ((coords[:, 0] >= bx0) & (coords[:, 0] <= bx1) & (coords[:, 1] >= by0) & (coords[:, 1] <= by1)).sum()
    assert abs(int(raw) - inside.size) <= max(5, inside.size // 500), (raw, inside.size)
    # the box is the one dragged: its corners map back to the mouse positions (within a pixel)
    view = page.evaluate("(() => { const v = window.__bigMap.current().view; return [v.cx, v.cy, v.s]; })()")
    cx, cy, s = view
    px0 = (sel["qbox"][0] - cx) * s + box["width"] / 2 + box["x"]
    assert abs(px0 - x0) <= 1.5
    assert page.get_by_test_id("big-map-selection").get_attribute("data-total") == str(inside.size)
    # Python's gallery of the first items (awaited: a rerun that the component's next report starts may be drawing
    # the page again when the selection has been read)
    page.get_by_text(f"item {inside[0]}", exact=True).first.wait_for(timeout=30_000)


def test_click_returns_the_index_and_send_to_walk(tall, demo_url, points):
    page = tall
    _open(page, demo_url)
    coords, labels, bounds, q = points
    target, pinned = click_a_lone_point(page, coords)
    s = page.evaluate("window.__bigMap.current().view.s")
    assert np.hypot(*(q[pinned].astype(float) - q[target].astype(float))) * s <= 2, (pinned, target)
    page.get_by_text(f"clicked={pinned}").wait_for(timeout=30_000)
    page.get_by_test_id("big-map-walk").click()
    page.get_by_text(f"walk={pinned}").wait_for(timeout=30_000)


def test_points_cross_the_websocket_once_in_compact_form(tall, demo_url):
    page = tall
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    _open(page, demo_url)
    got = page.evaluate("window.__bigMap.received")
    data = [r for r in got if r["what"] == "data" and r["points"]]
    decoder = [r for r in got if r["what"] == "decoder"]
    assert len(data) == 1 and len(decoder) == 1, got
    first = sum(received)
    per_point = (first - decoder[0]["bytes"]) / N
    assert per_point <= 12, f"{per_point:.2f} bytes a point on the wire"
    assert (data[0]["bytes"] - decoder[0]["bytes"]) / N <= 7
    for _ in range(2):
        n = len(received)
        page.get_by_role("button", name="Rerun").click()
        wait_idle(page, 600)
        rerun = sum(received[n:])
        assert 0 < rerun < 50_000, f"a rerun carried {rerun} bytes"
    assert len([r for r in page.evaluate("window.__bigMap.received") if r.get("points")]) == 1
    # in-app navigation away and back: the page keeps the points, no bytes are sent again
    n = len(received)
    page.get_by_text("elsewhere").click()
    wait_idle(page)
    page.get_by_text("map", exact=True).click()
    page.wait_for_function("() => window.__bigMap.current()?.firstFrame != null", timeout=30_000)
    wait_idle(page)
    assert sum(received[n:]) < 100_000


def test_with_the_item_route_the_server_image_comes_by_one_get_without_a_rerun(tall, routed_url, points):
    page = tall
    blocked = block_foreign(page)
    gets: list[str] = []
    page.on("request", lambda r: gets.append(r.url) if "/api/vae/item/" in r.url else None)
    _open(page, routed_url)
    coords, labels, bounds, q = points
    for label in (3, 7):
        where = page.evaluate(f"window.__bigMap.locate({_dense_index(q, labels, label)})")
        page.mouse.move(where["x"] - 20, where["y"] - 20)
        page.mouse.move(where["x"], where["y"], steps=3)
        hovered = page.evaluate("window.__bigMap.current().hoverIndex")
        assert hovered is not None
        page.wait_for_function(f"window.__bigMap.current().serverCaption.dataset.index === '{hovered}'", timeout=15_000)
        assert page.get_by_test_id("big-map-server-caption").inner_text() == f"item {hovered}'s image (server)"
        src = page.get_by_test_id("big-map-server-image").get_attribute("src")
        assert src.startswith("blob:"), src
        # the image is the item's: the server's PNG for that index, fetched from this origin
        assert any(u.startswith(routed_url + "/api/vae/item/") and u.endswith(f"/{hovered}") for u in gets), gets
    sent = page.evaluate("window.__bigMap.hoverSent")
    assert sent and all(h["how"] == "fetch" for h in sent), sent
    # Python never heard of the hover: no rerun was needed for the image
    assert _caption(page, "hovered=") == "None"
    # a token the server does not know is refused (the page then asks through a rerun)
    status = page.evaluate(f"fetch('{routed_url}/api/vae/item/forged-token/1').then(r => r.status)")
    assert status == 404
    assert blocked == [], f"requests to other hosts: {blocked}"
