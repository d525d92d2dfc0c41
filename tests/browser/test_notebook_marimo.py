"""The notebook widgets in marimo (`mo.ui.anywidget(...)`), served by `marimo run` on 127.0.0.1 and opened in
headless Chromium with every request to another host blocked. LatentWalk: the walk paints the kernel's torch decode
of its start code; a slider dragged with page.mouse repaints the image, and after the release a downstream cell that
reads `walk.value` shows the released values (the page's report reaches marimo as a change of the widget's synced
`reported` trait: frontend/src/hosts/anywidget.js); a button whose on_click sets `walk.code` in the kernel repaints
the page to the kernel's decode of that code. LatentMap: the points paint, hover paints the torch decode of the
hovered item's code, a box drawn with the mouse reaches a downstream cell that reads `.selection`, a UMAP layout
picked in the map's selector shows its progress under the map, and the t-SNE one a button asks for from Python
(found in the disk cache, as an earlier run leaves it) supersedes it and replaces the points from the kernel's
watching thread, the selection kept; search by name highlights a label and by index pins an item, which the
kernel hears of. DrawPad: a stroke reaches a downstream cell that reads `.code`. One marimo
app, one server for the module.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import marimo
import numpy as np
import pytest

from explorer.checkpoint import from_pretrained
from explorer.map_wire import data_bounds
from tests.browser.driver import FRAMES_JS, check_draw_pad_code, draw_pad_stroke
from tests.support.demo_models import torch_pixels
from tests.support.offline import block_foreign
from tests.support.ports import free_port
from tests.support.serve import start, stop

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "pretrained" / "conv-mnist5k"
START_SEED, SET_SEED = 0, 3  # the start code's generator, and the code the button sets
MAP_SEED, MAP_N = 5, 3000  # the map's codes (16-D, in 10 clusters): few enough that their own codes travel
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]  # searched by name
# the walk's frames: the draw pad's encodes land in the same list (window.__liveLatent.frames), in draw mode
WALK_FRAMES_JS = FRAMES_JS.replace("?? []).map(", "?? []).filter((f) => f.mode !== 'draw').map(")

# the app: a model loaded as the JupyterLab tests load it, the walk, a cell that reads walk.value, and a button
# that sets walk.code from Python (its on_click runs in the kernel)
APP = '''import marimo

__generated_with = "{version}"
app = marimo.App()


@app.cell
def _():
    import json

    import marimo as mo
    import numpy as np

    import torch

    from explorer.checkpoint import from_pretrained
    from explorer.notebook import DrawPad, LatentMap, LatentWalk
    return DrawPad, LatentMap, LatentWalk, from_pretrained, json, mo, np, torch


@app.cell
def _(LatentWalk, from_pretrained, mo, np):
    model = from_pretrained({model!r})
    start = np.random.default_rng({start_seed}).standard_normal(model.latent_shape).astype(np.float32)
    walk = mo.ui.anywidget(LatentWalk(model, start=start, cache_dir={cache!r}))
    walk
    return model, walk


@app.cell
def _(json, mo, np, walk):
    shown = {{"values": np.round(walk.value["data"]["values"], 4).tolist(),
              "code": np.round(walk.code.ravel().astype(float), 4).tolist()}}
    mo.Html(f"<pre id='walk-value' style='white-space: pre-wrap; max-width: 720px'>{{json.dumps(shown)}}</pre>")
    return


@app.cell
def _(mo, np, walk):
    def set_code(_):
        walk.code = np.random.default_rng({set_seed}).standard_normal(walk.latent_shape).astype(np.float32)
        return 1

    set_button = mo.ui.button(label="Set a code from Python", on_click=set_code)
    set_button
    return (set_button,)


@app.cell
def _(LatentMap, mo, model, np):
    rng = np.random.default_rng({map_seed})
    labels = rng.integers(0, 10, {map_n})
    codes = (rng.standard_normal((10, 16))[labels] * 2 + 0.6 * rng.standard_normal(({map_n}, 16))).astype(np.float32)
    bigmap = mo.ui.anywidget(LatentMap(codes, labels=labels, class_names={names!r}, model=model, cache_dir={cache!r},
                                       width=560, height=360))
    bigmap
    return (bigmap,)


@app.cell
def _(bigmap, json, mo):
    picked = {{"n": int(bigmap.selection.size), "first": bigmap.selection[:200].tolist(), "clicked": bigmap.clicked}}
    mo.Html(f"<pre id='map-value'>{{json.dumps(picked)}}</pre>")
    return


@app.cell
def _(bigmap, mo):
    def lay_out(_):
        bigmap.layout = "tsne"  # a background job, watched from a kernel thread (found in the cache here)
        return 1

    layout_button = mo.ui.button(label="Lay the map out by t-SNE", on_click=lay_out)
    layout_button
    return (layout_button,)


@app.cell
def _(DrawPad, mo, model):
    pad = mo.ui.anywidget(DrawPad(model, cache_dir={cache!r}))
    pad
    return (pad,)


@app.cell
def _(json, mo, pad, torch):
    drawn = None if pad.code is None else {{"code": pad.code.ravel().tolist(), "want": pad.model.encode(
        torch.from_numpy(pad.prepared)[None, None]).mean.ravel().tolist()}}
    mo.Html(f"<pre id='pad-value' style='white-space: pre-wrap; max-width: 720px'>{{json.dumps(drawn)}}</pre>")
    return


if __name__ == "__main__":
    app.run()
'''


def map_codes() -> tuple[np.ndarray, np.ndarray]:
    """The app's map: (codes (MAP_N, 16) float32, labels (MAP_N,)), as its cell makes them."""
    rng = np.random.default_rng(MAP_SEED)
    labels = rng.integers(0, 10, MAP_N)
    codes = rng.standard_normal((10, 16))[labels] * 2 + 0.6 * rng.standard_normal((MAP_N, 16))
    return codes.astype(np.float32), labels


def tsne_coords() -> np.ndarray:
    """The t-SNE layout planted in the cache (MAP_N, 2): any coordinates the page can be checked against."""
    return np.random.default_rng(9).uniform(-30, 30, (MAP_N, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("marimo")
    # the map's t-SNE where an earlier run of explorer.analysis.map_jobs would have cached it: the layout check then
    # costs no t-SNE (tests/notebook/test_map_layout.py runs the real one)
    from explorer.analysis.map_jobs import cache_path, map_key
    from explorer.cache import write_entry
    from explorer.notebook.layouts import DATASET, layout_params
    from explorer.notebook.models import object_digest

    key = map_key(object_digest(from_pretrained(MODEL)), DATASET, "tsne", layout_params("tsne"), 0, map_codes()[0])
    write_entry(cache_path(work / "cache", key), {"coords": tsne_coords()}, {"method": "tsne"})
    app = work / "walk_app.py"
    app.write_text(APP.format(version=marimo.__version__, model=str(MODEL), cache=str(work / "cache"),
                              start_seed=START_SEED, set_seed=SET_SEED, map_seed=MAP_SEED, map_n=MAP_N, names=NAMES))
    port = free_port()
    # no update check (it asks PyPI) and a config folder of the run's own; the kernel imports what the test does
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MARIMO_SKIP_UPDATE_CHECK": "1",
           "XDG_CONFIG_HOME": str(work / "config")}
    # `python -m` from the checkout: the checkout is first on the kernel's path
    cmd = [sys.executable, "-m", "marimo", "-q", "run", str(app), "--headless", "--no-token", "--no-sandbox",
           "--host", "127.0.0.1", "-p", str(port)]
    proc = start(cmd, port, work / "marimo.log", ROOT, env, timeout=120, health="/health")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


def painted_like_torch(model, frame) -> int:
    """The largest difference (uint8) between a painted frame and the torch decode of that frame's code."""
    want = torch_pixels(model, frame["code"]).reshape(-1).astype(int)
    return int(np.abs(np.asarray(frame["pixels"]) - want).max())


def test_the_widgets_in_marimo(marimo_url, browser, shots):
    model = from_pretrained(MODEL)
    start_code = np.random.default_rng(START_SEED).standard_normal(model.latent_shape).astype(np.float32).ravel()
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    blocked = block_foreign(ctx)
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    t_open = time.monotonic()
    page.goto(marimo_url)
    # Playwright's CSS locators reach into marimo's shadow roots, where the widget draws
    page.locator(".ll-root[data-path='wasm']").first.wait_for()
    page.wait_for_function("() => (window.__liveLatent?.frames ?? []).length > 0")
    ready_s = time.monotonic() - t_open
    # when the parts crossed, in s since the page's navigation: the page's first ask (the widget's cell has run),
    # the decoder's arrival, onnxruntime-web's (14 MB) arrival
    log = page.evaluate("() => window.__vaeWidgetParts.log")
    crossed = [e["t"] / 1000 for e in log if e["what"] in ("need", "parts")]
    shown = page.locator("#walk-value")

    # (a) the first frame: the kernel's torch decode of the start code
    first = page.evaluate(WALK_FRAMES_JS)[-1]
    np.testing.assert_allclose(first["code"], start_code, atol=1e-5)
    assert painted_like_torch(model, first) <= 1
    assert json.loads(shown.text_content())["values"] == [0.0] * 8

    # (b) a drag of the first slider repaints the image while the mouse is down; after the release the cell that
    # reads walk.value shows the released values (and walk.code the code they make)
    slider = page.locator(".ll-root input[type=range]").first
    box = slider.bounding_box()
    y, x0, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    n_before = len(page.evaluate(WALK_FRAMES_JS))
    page.mouse.move(x0 + width / 2, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + width * (0.5 + 0.035 * k), y, steps=4)
    page.mouse.up()
    t_release = time.monotonic()
    released = slider.evaluate("(e) => Array.from(e.closest('.ll-root').querySelectorAll('input[type=range]'),"
                               " (s) => Number(s.value))")
    dragged = page.evaluate(WALK_FRAMES_JS)[n_before:]
    distinct = {bytes(f["pixels"]) for f in dragged} - {bytes(first["pixels"])}
    assert len(distinct) >= 5, f"only {len(distinct)} new frames painted over the drag"
    assert max(painted_like_torch(model, f) for f in dragged[:: max(1, len(dragged) // 4)]) <= 1
    assert released[0] > 0.5 and released[1:] == [0.0] * 7
    deadline = time.monotonic() + 60
    while (cell := json.loads(shown.text_content()))["values"] == [0.0] * 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    cell_s = time.monotonic() - t_release
    np.testing.assert_allclose(cell["values"], released, atol=1e-4)
    want_code = start_code.astype(np.float64).copy()
    want_code[:8] += released  # the default axes: the first 8 dimensions, one unit each
    np.testing.assert_allclose(cell["code"], want_code, atol=2e-4)
    # docs/screenshots/notebook-marimo.png: the walk and the cell that read its value after the release
    top, bottom = page.locator(".ll-root").first.bounding_box(), shown.bounding_box()
    page.screenshot(path=str(shots / "notebook-marimo.png"), clip={
        "x": top["x"] - 8, "y": top["y"] - 8, "width": 740, "height": bottom["y"] + bottom["height"] - top["y"] + 16})

    # (c) setting walk.code from Python (the button's on_click, in the kernel) repaints the page to its decode
    set_code = np.random.default_rng(SET_SEED).standard_normal(model.latent_shape).astype(np.float32).ravel()
    page.get_by_role("button", name="Set a code from Python").click()
    page.wait_for_function("([first, last]) => { const f = window.__liveLatent.frames.filter((f) => f.mode !== 'draw')"
                           ".at(-1);"
                           " return Math.abs(f.code[0] - first) < 1e-4 && Math.abs(f.code.at(-1) - last) < 1e-4; }",
                           arg=[float(set_code[0]), float(set_code[-1])])
    last = page.evaluate(WALK_FRAMES_JS)[-1]
    np.testing.assert_allclose(last["code"], set_code, atol=1e-5)
    assert painted_like_torch(model, last) <= 1
    page.screenshot(path=str(shots / "marimo_walk_set_code.png"))

    t_map = time.monotonic()
    map_figures = map_in_marimo(page, model)
    draw_in_marimo(page, shots)
    widgets_s = time.monotonic() - t_map

    figures = (f"marimo {marimo.__version__} LatentWalk: first frame {ready_s:.1f} s after the page was opened (the "
               f"kernel's imports, model and ONNX export included; parts asked and received at "
               f"{', '.join(f'{t:.1f}' for t in crossed)} s); {len(dragged)} frames ({len(distinct)} new) over "
               f"the drag; the downstream cell showed the released values {cell_s:.2f} s after the release; "
               f"{map_figures}; the map and draw pad checks took {widgets_s:.1f} s; blocked requests: {len(blocked)}")
    print(figures)
    (shots / "figures.txt").write_text(figures + "\n")
    assert not blocked, blocked
    ctx.close()


def map_in_marimo(page, model) -> str:
    """LatentMap in marimo: painted, hover decodes the hovered item's own code (the codes travel: N*D is small), and a
    Shift+drag box reaches the cell that reads `bigmap.selection`. Returns the figures it measured."""
    codes, _ = map_codes()
    overlay = page.locator("[data-testid=big-map-overlay]")
    overlay.scroll_into_view_if_needed()
    page.wait_for_function(f"() => window.__bigMap?.current()?.ds?.n === {MAP_N} && window.__bigMap.current().session")
    box = overlay.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    n_hovers = page.evaluate("() => window.__bigMap.hovers.length")
    t_hover = time.monotonic()
    page.mouse.move(cx + 10, cy - 8)
    page.mouse.move(cx + 11, cy - 8)
    page.wait_for_function(f"() => window.__bigMap.hovers.length > {n_hovers}")
    hover_s = time.monotonic() - t_hover
    hover = page.evaluate("() => window.__bigMap.hovers.at(-1)")
    decoded = page.evaluate("""() => { const root = window.__bigMap.current().root;
      const c = root.querySelector('[data-testid=big-map-decoded]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return Array.from(d.filter((_, i) => i % 4 === 0)); }""")
    assert hover["how"] == "item" and hover["index"] is not None
    want = torch_pixels(model, codes[hover["index"]]).reshape(-1).astype(int)
    # the codes cross as float16: a pixel may round the other way
    assert np.abs(np.asarray(decoded) - want).max() <= 2, "the hover's decode differs from the kernel's"

    page.keyboard.down("Shift")
    page.mouse.move(cx - 60, cy - 45)
    page.mouse.down()
    page.mouse.move(cx + 50, cy + 40, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    t_release = time.monotonic()
    sel = page.evaluate("() => window.__bigMap.current().selection")
    assert sel["kind"] == "box" and sel["total"] > 0
    shown = page.locator("#map-value")
    deadline = time.monotonic() + 60
    while (cell := json.loads(shown.text_content()))["n"] != sel["total"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cell["n"] == sel["total"] and cell["first"] == sel["first"][:200], (cell["n"], sel["total"])
    selection_s = time.monotonic() - t_release

    # layouts: a UMAP picked in the page's selector shows its progress under the map while the PCA points stay; the
    # t-SNE asked for from Python supersedes it and arrives from the kernel's watching thread, the selection kept
    job = page.locator("[data-testid=big-map-job]")
    page.locator("[data-testid=big-map-layout]").select_option("umap")
    page.locator("[data-testid=big-map-job][data-state=running][data-method=umap]").wait_for()
    assert "UMAP of 3,000 points in the background" in job.inner_text() and "PCA layout is shown meanwhile" in \
        job.inner_text()
    assert page.evaluate("() => window.__bigMap.current().ds.key.endsWith(':pca')")
    t_layout = time.monotonic()
    page.get_by_role("button", name="Lay the map out by t-SNE").click()
    page.wait_for_function("() => window.__bigMap.current()?.ds?.key.endsWith(':tsne')")
    layout_s = time.monotonic() - t_layout
    laid = page.evaluate("() => { const i = window.__bigMap.current(); return { bounds: i.ds.bounds, n: i.ds.n, "
                         "selection: i.selection && { kind: i.selection.kind, total: i.selection.total } }; }")
    np.testing.assert_allclose(laid["bounds"], data_bounds(tsne_coords()), rtol=1e-6)
    assert laid["n"] == MAP_N and laid["selection"] == {"kind": "given", "total": sel["total"]}
    assert job.get_attribute("data-state") == "done"
    assert "t-SNE of 3,000 points: loaded from the cache" in job.inner_text()
    assert json.loads(shown.text_content())["n"] == sel["total"]

    # search, on the new points: a name highlights its label, an index pins its item (the kernel hears a click)
    _, labels = map_codes()
    search = page.locator("[data-testid=big-map-search]")
    search.fill("seven")
    search.press("Enter")
    status = page.locator("[data-testid=big-map-status]")
    assert status.inner_text() == f"label seven: {int((labels == 7).sum()):,} points"
    search.fill("123")
    search.press("Enter")
    page.locator("[data-testid=big-map-pinned][data-index='123']").wait_for()
    deadline = time.monotonic() + 60
    while json.loads(shown.text_content())["clicked"] != 123 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(shown.text_content())["clicked"] == 123
    return (f"LatentMap of {MAP_N:,} points: hover decoded in {hover_s:.2f} s, a box of {sel['total']} points "
            f"reached the cell reading .selection {selection_s:.2f} s after the release, the t-SNE points painted "
            f"{layout_s:.2f} s after the button")


def draw_in_marimo(page, shots) -> None:
    """DrawPad in marimo: a stroke, released, reaches the cell that reads `pad.code` (the model's encoding of the
    drawing the kernel prepared), close to the page's own encoding of the same strokes."""
    pad = page.locator("[data-testid=live-latent-draw]")
    pad.scroll_into_view_if_needed()
    page.locator(".ll-root[data-path='wasm']:has([data-testid=live-latent-draw])").wait_for()
    draw_pad_stroke(page, pad)
    shown = page.locator("#pad-value")
    deadline = time.monotonic() + 60
    while (drawn := json.loads(shown.text_content())) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert drawn, "the drawing never reached the cell reading pad.code"
    check_draw_pad_code(page, drawn)
