"""Drag a live-latent slider in headless Chromium and time the in-page decode, per shipped model.

    python -m bench.bench_live_drag [--models conv-mnist5k mlp-mnist5k-2d conv-patches] [--seconds 2] [--json out.json]

Runs tests/browser/live_demo_app.py (this checkout's component files, see ui.components.devserver). Per model: a first
visit (exports the decoder on the server if needed), then mouse down on the first slider, pointer moves at 60 Hz
for --seconds, mouse up; then a second visit in the same browser context (HTTP cache warm). Figures, all on the
page's clock (performance.now / event.timeStamp):
  work_ms p50/p95   per painted frame: the input event's timestamp -> the image written to the canvas
  frames_per_s      frames with a new image while the mouse was down / the drag's duration
  events            input events during the drag (frames < events means newer values superseded waiting ones)
  painted_events_per_s  the rate of the input events whose frame was painted (the driver's actual pointer rate
                    when every event gets its frame: frames/s cannot exceed it)
  ready_ms          first render of the component -> first decoded frame painted (first and second visit)
  ready_nav_ms      navigation start -> first decoded frame painted (second visit)
Targets: p95 <= 16 ms (conv-mnist5k, mlp-mnist5k-2d), <= 33 ms (conv-patches); >= 50 frames/s
(conv-mnist5k); second-visit readiness <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause, settle
from tests.support.serve import demo_in_chromium
from ui.components.devserver import ROOT

MODELS = ("conv-mnist5k", "mlp-mnist5k-2d", "conv-patches")
TARGET_P95 = {"conv-mnist5k": 16.0, "mlp-mnist5k-2d": 16.0, "conv-patches": 33.0}
READY = "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.firstFrame)"


def _visit(page, url: str) -> dict:
    page.goto(url)
    page.wait_for_function(READY, timeout=300_000)
    status = page.evaluate("Object.values(window.__liveLatent.status).find(s => s.firstFrame)")
    return {"ready_ms": status["readinessMs"], "ready_nav_ms": status["firstFrame"], "path": status["path"]}


def _drag(page, seconds: float, hz: float = 60.0) -> dict:
    box = page.locator("input[type=range]").first.bounding_box()
    x0, y = box["x"] + 0.15 * box["width"], box["y"] + box["height"] / 2
    span = 0.7 * box["width"]
    n = int(seconds * hz)
    page.mouse.move(x0, y)
    page.wait_for_timeout(pause(300))
    f0, e0 = page.evaluate("[window.__liveLatent.frames.length, window.__liveLatent.events]")
    page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        page.mouse.move(x0 + span * i / n, y)
        wait = t0 + i / hz - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    page.wait_for_timeout(50)
    got = page.evaluate("""([f0, e0]) => { const G = window.__liveLatent;
        return { events: G.events - e0, frames: G.frames.slice(f0).filter(f => f.dragging)
                 .map(f => [f.tEvent, f.tDrawn, f.tDecoded - f.tStart]) }; }""", [f0, e0])
    got["events_per_s"] = page.evaluate("""(n) => { const f = window.__liveLatent.frames.filter(f => f.dragging).slice(-n);
        return f.length > 1 ? 1000 * (f.length - 1) / (f.at(-1).tEvent - f[0].tEvent) : null; }""", len(got["frames"]))
    page.mouse.up()
    frames = np.asarray(got["frames"], dtype=np.float64).reshape(-1, 3)
    work = frames[:, 1] - frames[:, 0]
    duration = (frames[-1, 1] - frames[0, 0]) / 1000 if len(frames) > 1 else float("nan")
    return {"events": got["events"], "frames": int(len(frames)), "painted_events_per_s": got["events_per_s"],
            "work_ms_p50": float(np.percentile(work, 50)), "work_ms_p95": float(np.percentile(work, 95)),
            "run_ms_p95": float(np.percentile(frames[:, 2], 95)), "frames_per_s": len(frames) / duration}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", type=Path)
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), models=["conv-mnist5k"], seconds=0.3)

    rows = []
    with demo_in_chromium(ROOT / "tests" / "browser" / "live_demo_app.py", "LIVE_DEMO_CACHE",
                          fresh_cache=not args.smoke) as (browser, url):
        for name in args.models:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            first = _visit(page, f"{url}/?model={name}")
            settle(page, 1000)  # let the status rerun settle
            drag = _drag(page, args.seconds)
            page.close()
            second_page = ctx.new_page()
            second = _visit(second_page, f"{url}/?model={name}")
            ctx.close()
            row = {"model": name, "path": first["path"], **drag, "ready_ms_first": first["ready_ms"],
                   "ready_ms_second": second["ready_ms"], "ready_nav_ms_second": second["ready_nav_ms"],
                   "target_p95_ms": TARGET_P95.get(name)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'model':16} {'events':>6} {'frames':>6} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'target':>6} "
          f"{'ready1 ms':>9} {'ready2 ms':>9} {'nav2 ms':>8}")
    for r in rows:
        print(f"{r['model']:16} {r['events']:6d} {r['frames']:6d} {r['frames_per_s']:6.1f} {r['work_ms_p50']:7.2f} "
              f"{r['work_ms_p95']:7.2f} {r['target_p95_ms'] or 0:6.0f} {r['ready_ms_first']:9.0f} "
              f"{r['ready_ms_second']:9.0f} {r['ready_nav_ms_second']:8.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
