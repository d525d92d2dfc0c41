"""Draw on the live component's canvas in headless Chromium and time stroke event -> reconstruction painted.

    python -m bench.bench_draw [--seconds 2] [--strokes 3] [--json out.json]

Runs tests/browser/live_draw_app.py (conv-mnist5k, this checkout's component files, see ui.components.devserver). Per
stroke: mouse down on the canvas, Playwright page.mouse moves at 60 Hz for --seconds along a digit-like path,
mouse up. Every stroke event is prepared (the page's twin of prepare_digit), encoded and decoded in the page
(onnxruntime-web, wasm, one thread), with the latest event winning. Figures, on the page's clock
(event.timeStamp / performance.now):
  event_ms p50/p95  per stroke event: the event -> the first reconstruction painted that includes it (an event
                    superseded by a later one counts until the frame that shows the later one): the target's figure
  frame_ms p50/p95  per painted frame: its event -> painted
  prepare/encode/decode_ms p50  the frame's parts: raster read + preparation, encoder run, decoder run + paint
  frames, events, frames_per_s
Target: event_ms p95 <= 33 ms for conv-mnist5k.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause, settle
from tests.support.serve import demo_in_chromium
from ui.components.devserver import ROOT

TARGET_P95_MS = 33.0
READY = "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.path === 'wasm' && s.sessionReady)"
BOARD = "[data-testid='live-latent-draw']"


def _path(t: float) -> tuple[float, float]:
    """A loop that wanders over the board (fractions of its side), t in [0, 1]."""
    a = 2 * math.pi * t
    return 0.5 + 0.3 * math.sin(a) * math.cos(0.5 * a), 0.5 - 0.35 * math.cos(a)


def stroke(page, seconds: float, hz: float = 60.0) -> dict:
    box = page.locator(BOARD).first.bounding_box()
    at = lambda t: (box["x"] + _path(t)[0] * box["width"], box["y"] + _path(t)[1] * box["height"])  # noqa: E731
    n = int(seconds * hz)
    page.mouse.move(*at(0.0))
    page.wait_for_timeout(pause(300))
    f0, e0 = page.evaluate("[window.__liveLatent.frames.length, window.__liveLatent.strokeEvents.length]")
    page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        page.mouse.move(*at(i / n))
        wait = t0 + i / hz - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    page.wait_for_timeout(pause(200))
    got = page.evaluate("""([f0, e0]) => { const G = window.__liveLatent;
        return { events: G.strokeEvents.slice(e0),
                 frames: G.frames.slice(f0).filter(f => f.mode === 'draw' && f.dragging)
                   .map(f => [f.tEvent, f.tDrawn, f.tStart, f.tPrepared, f.tEncoded]) }; }""", [f0, e0])
    page.mouse.up()
    page.wait_for_timeout(pause(500))
    frames = np.asarray(got["frames"], dtype=np.float64).reshape(-1, 5)
    events = np.asarray(got["events"], dtype=np.float64)
    # each event waits for the first frame decoded from it or from a later event
    order = np.argsort(frames[:, 0])
    f_event, f_drawn = frames[order, 0], frames[order, 1]
    idx = np.searchsorted(f_event, events, side="left")
    seen = idx < len(f_event)
    event_ms = f_drawn[idx[seen]] - events[seen]
    frame_ms = frames[:, 1] - frames[:, 0]
    duration = (frames[-1, 1] - frames[0, 0]) / 1000 if len(frames) > 1 else float("nan")
    return {"events": int(len(events)), "events_unpainted": int((~seen).sum()), "frames": int(len(frames)),
            "event_ms": event_ms.tolist(), "frame_ms": frame_ms.tolist(),
            "prepare_ms": (frames[:, 3] - frames[:, 2]).tolist(), "encode_ms": (frames[:, 4] - frames[:, 3]).tolist(),
            "decode_ms": (frames[:, 1] - frames[:, 4]).tolist(), "frames_per_s": len(frames) / duration}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--strokes", type=int, default=3)
    parser.add_argument("--json", type=Path)
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), seconds=0.5, strokes=1)

    runs = []
    with demo_in_chromium(ROOT / "tests" / "browser" / "live_draw_app.py", "LIVE_DEMO_CACHE",
                          fresh_cache=not args.smoke) as (browser, url):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function(READY, timeout=300_000)
        # let the status rerun settle (--smoke: until the script is idle, then 0.3 s)
        settle(page, 1500)
        for _ in range(args.strokes):
            page.get_by_test_id("live-latent-clear").click()
            settle(page, 800)
            runs.append(stroke(page, args.seconds))
    cat = lambda k: np.concatenate([np.asarray(r[k]) for r in runs])  # noqa: E731
    row = {"model": "conv-mnist5k", "strokes": len(runs), "events": sum(r["events"] for r in runs),
           "events_unpainted": sum(r["events_unpainted"] for r in runs), "frames": sum(r["frames"] for r in runs),
           "frames_per_s": float(np.mean([r["frames_per_s"] for r in runs])), "target_p95_ms": TARGET_P95_MS}
    for k in ("event_ms", "frame_ms"):
        row[f"{k}_p50"], row[f"{k}_p95"] = (float(np.percentile(cat(k), q)) for q in (50, 95))
    for k in ("prepare_ms", "encode_ms", "decode_ms"):
        row[f"{k}_p50"] = float(np.percentile(cat(k), 50))
    print(json.dumps(row, indent=2))
    print(f"\nstroke event -> reconstruction painted: p50 {row['event_ms_p50']:.1f} ms, p95 {row['event_ms_p95']:.1f} ms "
          f"(target {TARGET_P95_MS:.0f}); {row['frames']} frames for {row['events']} events, "
          f"{row['frames_per_s']:.1f} frames/s")
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
