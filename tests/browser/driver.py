"""Small Playwright helpers for driving the Streamlit app like a person does, and for reading the live component's
frames wherever it runs (the app, JupyterLab, marimo)."""

from __future__ import annotations

import re

import numpy as np

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
BOARD = "[data-testid='live-latent-draw']"  # the live component's drawing canvas
# true once a live component on the page has drawn its first decoded frame
LIVE_FIRST_FRAME = "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.firstFrame)"
# every frame the live component painted on the page: its code, its pixels (one channel, row-major), when it was
# drawn and whether a drag was on
FRAMES_JS = """() => (window.__liveLatent?.frames ?? []).map((f) => ({
  code: Array.from(f.code), pixels: Array.from(f.pixels), tDrawn: f.tDrawn, dragging: f.dragging }))"""


def wait_idle(pg, settle_ms: int = 400) -> None:
    """Let a rerun start, then wait until the script has finished."""
    pg.wait_for_timeout(settle_ms)
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)


def expect_in_page_decoding(pg) -> None:
    """A demo app's caption says path=wasm, once. The component reports its path to Python after its first frame,
    and that rerun may start after wait_idle's 400 ms under load, so the caption is awaited (a fallback never
    writes it)."""
    pg.get_by_text("path=wasm").wait_for(timeout=60_000)
    assert pg.get_by_text("path=wasm").count() == 1


def open_app(pg, url: str, path: str = "") -> None:
    pg.goto(f"{url}/{path}")
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)
    pg.locator("h1").first.wait_for()


def choose(pg, label: str, option_text: str) -> None:
    """Pick the option whose text starts with option_text in the selectbox labelled `label`."""
    box = pg.get_by_role("combobox", name=label)
    box.click()
    pg.keyboard.type(option_text)  # the list is virtualised: with many entries, only the first few are drawn
    pg.get_by_role("option").filter(has_text=re.compile("^" + re.escape(option_text))).first.click()
    wait_idle(pg)


def choose_model(pg, name: str) -> None:
    choose(pg, "Checkpoint", f"{name}")
    pg.get_by_role("combobox", name="Checkpoint").filter(has_text=re.compile("")).first.wait_for()
    assert pg.get_by_role("combobox", name="Checkpoint").input_value().startswith(name)


def add_model_to_compare(pg, name: str) -> None:
    """Pick one more model in the Compare page's multiselect; returns once the pick shows as chosen."""
    pg.get_by_role("combobox", name=re.compile("^Models to compare")).click()
    pg.keyboard.type(name)  # the list is virtualised: with many models, only the first few options are drawn
    pg.get_by_role("option").filter(has_text=re.compile("^" + re.escape(name) + "$")).first.click()
    pg.keyboard.press("Escape")
    # a pick made while the previous pick's rerun is still running can be lost: wait until it shows as chosen
    pg.get_by_test_id("stMultiSelectTagsContainer").locator("[data-tag]").filter(has_text=name).first.wait_for()
    wait_idle(pg, 800)


def go(pg, title: str, settle_ms: int = 200) -> None:
    """In-app navigation by the sidebar link; then wait_idle(pg, settle_ms)."""
    pg.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).first.click()
    pg.locator("h1").filter(has_text=title).first.wait_for()
    wait_idle(pg, settle_ms)


def image_src(pg, caption: str, timeout_ms: float | None = None) -> str:
    """src of the image whose caption starts with `caption` (waits for it: the page's default timeout, or timeout_ms)."""
    img = pg.locator("[data-testid='stImageContainer']").filter(
        has=pg.locator("[data-testid='stImageCaption']", has_text=re.compile("^" + re.escape(caption)))).locator("img").first
    img.wait_for(timeout=timeout_ms)
    return img.get_attribute("src")


WALK_SHOWN = f"""() => {{
  const served = [...document.querySelectorAll("[data-testid='stImageContainer']")].some(c =>
    (c.querySelector("[data-testid='stImageCaption']")?.textContent ?? "").startsWith("decoded mean") &&
    c.querySelector("img")?.getAttribute("src"));
  return served ? "served" : (({LIVE_FIRST_FRAME})() ? "wasm" : false);
}}"""


def walk_image_shown(pg, timeout_ms: int = 120_000) -> str:
    """Wait until the walk shows its image: "served" (the server's decoded mean, while the in-browser decoder
    is missing or still loading) or "wasm" (the live component drew its first frame; the server's image is
    then gone, so waiting for it alone races the component)."""
    return pg.wait_for_function(WALK_SHOWN, timeout=timeout_ms).json_value()


def upload(pg, files: list[tuple[str, bytes, str]]) -> None:
    payload = [{"name": n, "mimeType": m, "buffer": b} for n, b, m in files]
    pg.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(payload)
    wait_idle(pg, 800)


# An upload made by the page's own script. Playwright's set_input_files keeps a DevTools handle on the input it
# filled, which pins that input, and through its parent links the whole page, after a page change: measured as
# +50 DOM nodes a visit that the app does not keep (tests/browser/test_page_memory.py).
UPLOAD_IN_PAGE_JS = """([name, mime, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], name, {type: mime}));
  const input = document.querySelector("[data-testid='stFileUploader'] input[type='file']");
  input.files = files.files;
  input.dispatchEvent(new Event("change", {bubbles: true}));
}"""


def upload_in_page(pg, name: str, data: bytes, mime: str = "image/png") -> None:
    """Upload one file through the uploader without a DevTools handle on it (see UPLOAD_IN_PAGE_JS)."""
    import base64

    pg.locator("[data-testid='stFileUploader'] input[type='file']").first.wait_for(state="attached")
    pg.evaluate(UPLOAD_IN_PAGE_JS, [name, mime, base64.b64encode(data).decode()])
    wait_idle(pg, 800)


def click_a_lone_point(pg, coords: np.ndarray) -> tuple[int, int]:
    """Click the big map's lone point: of the 200 points farthest from the middle of `coords` (N, 2), the first on
    the canvas; (that point's index, the index the map then pins)."""
    for idx in np.argsort(-np.abs(coords.astype(float) - np.median(coords, 0)).sum(1))[:200]:
        where = pg.evaluate(f"window.__bigMap.locate({int(idx)})")
        if where["inside"]:
            pg.mouse.click(where["x"], where["y"])
            return int(idx), int(pg.get_by_test_id("big-map-pinned").get_attribute("data-index"))
    raise AssertionError("none of the 200 points farthest from the middle is on the canvas")


def dom_nodes(pg) -> int:
    """The page's live DOM nodes after a forced garbage collection (detached ones that something keeps included)."""
    cdp = pg.context.new_cdp_session(pg)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        return int(cdp.send("Memory.getDOMCounters")["nodes"])
    finally:
        cdp.detach()


def shot(pg, path) -> None:
    pg.screenshot(path=str(path), full_page=True)


def stroke(page, points: list[tuple[float, float]], hz: float = 60.0) -> tuple[int, int]:
    """Press at points[0] (fractions of the board), move through the rest at ~hz, release; returns (frames
    before the press, frames before the release)."""
    box = page.locator(BOARD).first.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    n0 = page.evaluate("window.__liveLatent.frames.length")
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y)
        page.wait_for_timeout(1000 / hz)
    page.wait_for_timeout(150)
    before = page.evaluate("window.__liveLatent.frames.length")
    page.mouse.up()
    return n0, before


def draw_pad_stroke(page, pad) -> None:
    """One stroke down the middle of a DrawPad's canvas (`pad`, a locator), drawn with page.mouse and released."""
    b = pad.bounding_box()
    page.mouse.move(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.52, b["y"] + b["height"] * 0.8, steps=8)
    page.mouse.up()


def check_draw_pad_code(page, drawn: dict) -> None:
    """A DrawPad's `.code` after a stroke (drawn["code"]) is the model's posterior mean of the drawing the kernel
    prepared (drawn["want"]), and the page's own encoding of the same strokes agrees within 0.05."""
    np.testing.assert_allclose(drawn["code"], drawn["want"], atol=1e-5)
    page_code = page.evaluate("() => Array.from(window.__liveLatent.frames.filter((f) => f.mode === 'draw')"
                              ".at(-1).code)")
    np.testing.assert_allclose(page_code, drawn["code"], atol=0.05)


def seven(n: int = 30) -> list[tuple[float, float]]:
    """A '7': a bar from the upper left to the upper right, then down to the lower middle."""
    bar = [(0.25 + 0.5 * t, 0.2) for t in np.linspace(0, 1, n // 2)]
    leg = [(0.75 - 0.3 * t, 0.2 + 0.65 * t) for t in np.linspace(0, 1, n - n // 2)[1:]]
    return bar + leg
