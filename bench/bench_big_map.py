"""Time the big-map component in headless Chromium at 200,000 and 1,000,000 points.

    python -m bench.bench_big_map [--sizes 200000 1000000] [--json out.json] [--trace]

Runs tests/browser/bigmap_demo_app.py (this checkout's component files, see ui.components.devserver) with a 1000x700
canvas. Figures, on the page's clock (performance.now / event.timeStamp):
  first_paint_cold_ms  navigation start -> the first raster painted (the points + decoder cross the websocket)
  first_paint_warm_ms  in-app navigation (the demo's "elsewhere" -> "map"): click -> the map shown with its raster
                       (the page keeps the points; Streamlit may keep the element itself, already painted)
  zoom_ms / pan_ms     p50 / p95 per frame: the wheel / pointer event's timestamp -> putImageData done (wheel
                       steps alternate in and out around the overview, so most frames draw all the points)
  draw_ms              p50 / p95 of the raster's own work per frame (rAF start -> putImageData done)
  hover_ms             p50 / p95: pointer move -> the decoded image painted (onnxruntime-web, PCA inverse)
  server_image_ms      p50 / p95: the pointer's rest -> the server's image of the hovered item shown (one GET of
                       ui/itemserver's route, as `vae-explorer` serves; a rerun with --no-item-route)
  select_ms            a box of ~100,000 points: counts per label + the first indices, in the page
  select_gallery_ms    the same box: -> Python's caption and gallery on the page (a rerun)
Targets: first paint warm <= 2 s at 1M; frame p95 <= 50 ms at 200k, <= 100 ms at 1M; hover p95
<= 100 ms; 100,000-point selection -> counts and gallery <= 1 s. --trace records a Chromium performance trace of
the zoom frames (CDP Tracing) and prints the top trace events by total duration.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.browser.driver import IDLE
from tests.support.serve import demo_in_chromium
from tests.support.bigmap_points import clustered
from explorer.map_wire import data_bounds, quantize
from ui.components.devserver import ROOT

DEMO = ROOT / "tests" / "browser" / "bigmap_demo_app.py"  # a Streamlit script, run, not imported
SERVE = ROOT / "tests" / "browser" / "bigmap_demo_serve.py"  # the demo inside st.App with the item route
READY = "() => !!window.__bigMap?.current()?.firstFrame && !!window.__bigMap.current().session"


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def idle(page, settle=300) -> None:
    page.wait_for_timeout(pause(settle))
    page.wait_for_selector(IDLE, state="attached", timeout=240_000)


def frames_since(page, n0):
    return page.evaluate(f"window.__bigMap.frames.slice({n0})")


def wheel(page, steps: int) -> list:
    n0 = page.evaluate("window.__bigMap.frames.length")
    for i in range(steps):
        page.mouse.wheel(0, -120 if i % 2 == 0 else 120)
        page.wait_for_timeout(pause(60))
    page.wait_for_timeout(pause(300))
    return frames_since(page, n0)


def measure(page, url: str, n: int, trace: bool, visits: int = 3, wheels: int = 40, pans: int = 40,
            hovers: int = 60, prewarm: bool = True) -> dict:
    """One size's figures (see the module docstring): `visits` in-app navigations, `wheels` zoom steps, `pans`
    pan moves, `hovers` pointer positions; prewarm: a first page makes the server's side warm (decoder exported,
    points generated), so that the cold figure is the page's own (--smoke leaves it out)."""
    row: dict = {"n": n}
    if prewarm:
        page.goto(f"{url}/?n={n}")
        page.wait_for_function(READY, timeout=300_000)
        page = page.context.browser.new_context(viewport={"width": 1500, "height": 1250}).new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/?n={n}")
    page.wait_for_function(READY, timeout=300_000)
    fp = page.evaluate("Object.values(window.__bigMap.firstPaint).at(-1)")
    row["first_paint_cold_ms"] = fp["tDrawn"]
    got = page.evaluate("window.__bigMap.received")
    decoder = sum(r["bytes"] for r in got if r["what"] == "decoder")
    row["wire_bytes"] = [r["bytes"] for r in got if r.get("points")][-1] - decoder  # the points' share
    row["index_ms"] = page.evaluate("window.__bigMap.current().ds.indexMs")
    idle(page)
    # warm: in-app navigation away and back (the page keeps the points)
    warm = []
    for _ in range(visits):
        page.get_by_text("elsewhere").click()
        idle(page)
        page.evaluate("window.__t0 = performance.now()")
        page.get_by_text("map", exact=True).click()
        # shown: the other page's text gone, the map's element connected and laid out with a painted raster
        page.wait_for_function("""() => { const i = window.__bigMap.current();
            return i && !document.body.innerText.includes('Another page') && i.firstFrame !== null
                && i.canvas.getBoundingClientRect().height > 0; }""", timeout=60_000, polling=10)
        warm.append(page.evaluate("performance.now() - window.__t0"))
        idle(page)
    row["first_paint_warm_ms"] = warm
    box = page.get_by_test_id("big-map-overlay").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # zoom: wheel in / out around the overview
    page.mouse.move(cx, cy)
    zoom = wheel(page, wheels)
    if trace:  # a second, traced pass (tracing slows the page: its frames are not the figures)
        cdp = page.context.new_cdp_session(page)
        events: list = []
        cdp.on("Tracing.dataCollected", lambda e: events.extend(e["value"]))
        cdp.send("Tracing.start", {"categories": "devtools.timeline,v8.execute,blink,cc,gpu", "transferMode": "ReportEvents"})
        wheel(page, 20)
        done = []
        cdp.on("Tracing.tracingComplete", lambda e: done.append(1))
        cdp.send("Tracing.end")
        deadline = time.time() + 30
        while not done and time.time() < deadline:
            page.wait_for_timeout(100)
        total = Counter()
        for e in events:
            if e.get("ph") == "X" and e.get("dur"):
                total[e["name"]] += e["dur"] / 1000
        row["trace_top_ms"] = dict(total.most_common(10))
    # pan: drag across the canvas
    n0 = page.evaluate("window.__bigMap.frames.length")
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(pans):
        page.mouse.move(cx - 80 + (i % 20) * 8, cy + (i % 10) * 5)
        page.wait_for_timeout(33)
    page.mouse.up()
    page.wait_for_timeout(pause(300))
    pan = frames_since(page, n0)
    for name, frames in (("zoom", zoom), ("pan", pan)):
        lat = [f["tDrawn"] - f["tEvent"] for f in frames]
        work = [f["tDrawn"] - f["tStart"] for f in frames]
        row[f"{name}_frames"] = len(frames)
        row[f"{name}_ms"] = [round(pct(lat, 50), 1), round(pct(lat, 95), 1)]
        row[f"{name}_draw_ms"] = [round(pct(work, 50), 1), round(pct(work, 95), 1)]
        row[f"{name}_drawn_points_median"] = int(np.median([f["drawn"] for f in frames])) if frames else 0
    page.get_by_test_id("big-map-reset").click()
    idle(page)
    # hover: 60 positions in the middle of the canvas, every third a rest
    rng = np.random.default_rng(0)
    h0 = page.evaluate("window.__bigMap.hovers.length")
    server = []
    for i in range(hovers):
        x = box["x"] + box["width"] * rng.uniform(0.3, 0.7)
        y = box["y"] + box["height"] * rng.uniform(0.3, 0.7)
        rest = i % 3 == 2  # every third move rests: time the server's image of the hovered item from the move
        t0 = page.evaluate("performance.now()") if rest else 0.0
        page.mouse.move(x, y)
        if rest:
            idx = page.evaluate("window.__bigMap.current().hoverIndex")
            shown = page.evaluate("window.__bigMap.current().serverShown")
            if idx is not None and idx != shown:
                try:
                    page.wait_for_function(f"window.__bigMap.current().serverCaption.dataset.index === '{idx}'",
                                           timeout=10_000, polling=5)
                    server.append(page.evaluate("performance.now()") - t0)
                except Exception:  # noqa: BLE001
                    server.append(float("nan"))
            idle(page, 100)
        else:
            page.wait_for_timeout(25)  # moving on: shorter than the page's rest
    hovers = page.evaluate(f"window.__bigMap.hovers.slice({h0})")
    lat = [h["tDrawn"] - h["tEvent"] for h in hovers]
    row["hover_ms"] = [round(pct(lat, 50), 1), round(pct(lat, 95), 1), len(lat)]
    row["server_image_ms"] = [round(pct(server, 50), 1), round(pct(server, 95), 1)]
    # the server's share: the hover trigger sent -> that index's image arrived in the page
    sent = page.evaluate("window.__bigMap.hoverSent")
    shown = page.evaluate("window.__bigMap.serverImages")
    trip = []
    for s in shown:
        before = [h["t"] for h in sent if h["index"] == s["index"] and h["t"] <= s["t"]]
        if before:
            trip.append(s["t"] - before[-1])
    row["hover_trigger_to_image_ms"] = [round(pct(trip, 50), 1), round(pct(trip, 95), 1), len(trip)]
    # a box of ~100,000 points: the leftmost 100k by x, full height
    coords, _, _ = clustered(n)
    q = quantize(coords, data_bounds(coords))
    qx_cut = int(np.sort(q[:, 0])[min(n, 100_000) - 1])
    idle(page)
    t0 = page.evaluate("performance.now()")
    sel = page.evaluate(f"(() => {{ const s = window.__bigMap.selectBox([0, 0, {qx_cut}, 65535]); return {{total: s.total, ms: s.ms}}; }})()")
    page.wait_for_function(f"""() => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
        .some(e => e.innerText.includes('"total": {sel["total"]}'))""", timeout=60_000, polling=10)
    page.locator("[data-testid=stImage]").first.wait_for()
    row["select_total"] = sel["total"]
    row["select_ms"] = round(sel["ms"], 1)
    row["select_gallery_ms"] = round(page.evaluate("performance.now()") - t0, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[200_000, 1_000_000])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--no-item-route", action="store_true",
                        help="plain `streamlit run` of the demo: the hovered item's image comes through a rerun")
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), sizes=[2_000])
    rows = []
    with demo_in_chromium(DEMO if args.no_item_route else SERVE, "BIGMAP_DEMO_CACHE",
                          fresh_cache=not args.smoke) as (browser, url):
        for n in args.sizes:
            ctx = browser.new_context(viewport={"width": 1500, "height": 1250})
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            counts = dict(visits=1, wheels=4, pans=4, hovers=4, prewarm=False) if args.smoke else {}
            row = measure(page, url, n, args.trace, **counts)
            print(json.dumps(row), flush=True)
            rows.append(row)
            ctx.close()
    print(f"\n{'n':>9} {'cold ms':>8} {'warm ms':>8} {'zoom p50/p95':>13} {'pan p50/p95':>12} {'hover p50/p95':>14} "
          f"{'server ms':>9} {'select ms':>9} {'+gallery':>8} {'B/pt':>5}")
    for r in rows:
        print(f"{r['n']:9d} {r['first_paint_cold_ms']:8.0f} {np.median(r['first_paint_warm_ms']):8.0f} "
              f"{r['zoom_ms'][0]:6.1f}/{r['zoom_ms'][1]:<6.1f} {r['pan_ms'][0]:5.1f}/{r['pan_ms'][1]:<6.1f} "
              f"{r['hover_ms'][0]:6.1f}/{r['hover_ms'][1]:<7.1f} {r['server_image_ms'][0]:5.0f}/{r['server_image_ms'][1]:<5.0f} {r['select_ms']:9.1f} "
              f"{r['select_gallery_ms']:8.0f} {r['wire_bytes'] / r['n']:5.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
