"""Four sessions dragging an SD-config model at once: the spatial walk's sliders in several browser sessions of one
app, every release a full decode on the server's one inference thread.

    python -m bench.bench_sessions [--sessions 4] [--drags 3] [--size 256] [--config sd] [--seed 0] [--json out.json]
    nice -n 5 python -m bench.bench_sessions --json sessions.json         (the docs' run)

The app (`streamlit run app.py`, this checkout's assets; bench.big_vae_pages.spawn_folder) serves the random-weight
folder (bench.big_vae_pages: tests/support/foreign_models.make_kl with the SD 1.x config at --size px) alone, with
ui.services.watched's trace on (VAE_EXPLORER_TRACE). A drag: page.mouse down on one of the studio's sliders (the
in-page spatial walk, ui/pages/walk/spatial.py), moves at 60 Hz for --drag-seconds, release; the release's image is
the first "full decode" frame the page paints after it (window.__spatialLive.frames, tier "full"), timed from the
pointerup on the page's clock.

1. alone: one session opens the walk and makes --drags drags, each after the last one's image: release -> image,
   and the app's peak RSS (VmHWM) after it.
2. together: --sessions - 1 new sessions open the walk (at once) beside the first, then each of the --sessions
   makes --drags drags at seeded random times (its first within one decode, then 0.3 to 2 decodes after its last
   drag started), so that releases overlap and some supersede the session's previous one; each session's last
   release is waited for.
3. alone again: the first session, once the others are closed, makes max(1, --drags - 1) more drags alone ("one
   decode" is the median over 1. and 3.: a shared machine's load may change during the run).

Figures (targets printed beside them, not asserted):
  errors         exception and error elements on every page, page errors, failed requests and responses >= 400,
                 tracebacks in the app's log (target 0)
  per session    the most watched calls of one session queued or running at one moment, from the trace (target 1):
                 strictly (a superseded call counts until it has stopped) and live (until it is cancelled)
  release p95    release -> image over the together phase's releases that got their image, against one decode
                 (target <= 4.5 x)
  superseded     calls cancelled by a newer request (or a page that moved on), with the blocks each ran after its
                 cancel (the block that was running: at most 1) and in all
  memory         the app's peak RSS after the together phase against after the alone phase (target <= + 500 MB)
--smoke: a tiny config at 32 px, 2 sessions, 1 drag of 0.3 s (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.big_vae_pages import CONFIGS, random_weight_folder, spawn_folder, vmhwm_mb, weight_folder_path
from bench.smoke import add_smoke_option, apply_smoke
from tests.browser.driver import IDLE

TIER = "[data-testid='spatial-live-tier']"
ERROR_ELEMENTS = "[data-testid='stException'], [data-testid='stAlertContentError']"
# the page's clock at every pointerdown / pointerup (pointer events cross the component's shadow root; its range
# inputs' `change`, which is the release, follows the pointerup in the same task)
WATCH_JS = """
window.__drags = {downs: [], ups: []};
window.addEventListener("pointerdown", () => window.__drags.downs.push(performance.now()), true);
window.addEventListener("pointerup", () => window.__drags.ups.push(performance.now()), true);
"""
PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")
FULL_AFTER = ("(t) => (window.__spatialLive?.frames ?? []).some(f => f.tier === 'full' && f.tDrawn > t)")


# -- the server's trace (ui.services.watched, VAE_EXPLORER_TRACE) ---------------------------------------------
def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals (start, end) open at one moment (an end at the same moment as a start comes first)."""
    marks = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda m: (m[0], m[1]))
    most = now = 0
    for _, step in marks:
        now += step
        most = max(most, now)
    return most


def trace_summary(events: list[dict]) -> dict:
    """From the trace's events (one dict a line): per session its calls and the most of them queued or running at
    one moment ("most_at_once": a superseded call counts until it stopped; "most_live_at_once": until its cancel);
    the calls that were cancelled, each with the blocks it ran after its cancel and in all; and the most calls
    running at one moment over all sessions (one inference thread: 1)."""
    jobs: dict[int, dict] = {}
    for e in events:
        job = jobs.setdefault(e["job"], {"session": e["session"], "key": e["key"]})
        job.setdefault(e["event"], e)
    sessions: dict[str, dict] = {}
    for session in sorted({j["session"] for j in jobs.values()}):
        mine = [j for j in jobs.values() if j["session"] == session and "queued" in j]
        end = [j["finished"]["t"] if "finished" in j else float("inf") for j in mine]
        live_end = [min(e, j["cancel"]["t"]) if "cancel" in j else e for j, e in zip(mine, end)]
        sessions[session] = {"calls": len(mine),
                             "most_at_once": _most_at_once([(j["queued"]["t"], e) for j, e in zip(mine, end)]),
                             "most_live_at_once": _most_at_once([(j["queued"]["t"], e)
                                                                 for j, e in zip(mine, live_end)])}
    superseded = [{"session": j["session"], "key": j["key"], "reason": j["cancel"]["reason"],
                   "started": j["finished"]["blocks"] > 0, "blocks": j["finished"]["blocks"],
                   "blocks_after_cancel": j["finished"]["blocks_after_cancel"]}
                  for j in jobs.values() if "cancel" in j and j.get("finished", {}).get("outcome") == "cancelled"]
    running = [(j["started"]["t"], j["finished"]["t"]) for j in jobs.values() if "started" in j and "finished" in j]
    return {"sessions": sessions, "superseded": superseded, "most_running_at_once": _most_at_once(running),
            "outcomes": {o: sum(1 for j in jobs.values() if j.get("finished", {}).get("outcome") == o)
                         for o in ("done", "cancelled", "error")}}


def decode_seconds(events: list[dict], t0: float, t1: float) -> list[float]:
    """Seconds from start to end of the calls that ran to the end between monotonic times t0 and t1."""
    started = {e["job"]: e["t"] for e in events if e["event"] == "started"}
    return [e["t"] - started[e["job"]] for e in events if e["event"] == "finished" and e["outcome"] == "done"
            and e["job"] in started and t0 <= started[e["job"]] and e["t"] <= t1]


def read_trace(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


# -- the browser side ------------------------------------------------------------------------------------------
class Session:
    """One browser session on the walk: its page and what went wrong on it."""

    def __init__(self, page, name: str):
        self.page, self.name, self.problems = page, name, []
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("response", self._response)

    def _response(self, response) -> None:
        # Streamlit's client on a page's URL (/walk) first asks /walk/_stcore/health and host-config, gets 404 and
        # then asks the server's root: its way of finding the base path, not a failure
        if response.status >= 400 and not PROBE.search(response.url):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    async def error_elements(self) -> list[str]:
        return [f"error element: {t[:200]}" for t in await self.page.locator(ERROR_ELEMENTS).all_inner_texts()]


async def open_walk(browser, url: str, name: str, timeout_s: float) -> Session:
    """A new session (its own browser context) on the walk of model `name`, once its full decode is shown."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(WATCH_JS)
    page = await context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    session = Session(page, name)
    await page.goto(f"{url}/walk?model={name}")
    await page.locator(TIER).filter(has_text="full decode").wait_for()
    await page.wait_for_selector(IDLE, state="attached")
    return session


async def drag(page, axis: int, fraction: float, seconds: float) -> float:
    """Press on slider `axis`'s middle, move to `fraction` of its width at 60 Hz for `seconds`, release; the
    pointerup's time on the page's clock."""
    slider = page.locator(f"input[data-axis='{axis}']").first
    await slider.scroll_into_view_if_needed()
    box = await slider.bounding_box()
    x0, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    n = max(1, round(seconds * 60))
    await page.mouse.move(x0, y)
    await page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        await page.mouse.move(x0 + (fraction - 0.5) * box["width"] * i / n, y)
        await asyncio.sleep(max(0.0, t0 + i / 60 - time.perf_counter()))
    await page.mouse.up()
    return (await page.evaluate("window.__drags.ups"))[-1]


async def release_times(page) -> list[float | None]:
    """Per release (pointerup) of the page, ms to the first full-decode frame painted after it and before the next
    release; None: none (superseded by the session's next release, or never came)."""
    ups = await page.evaluate("window.__drags.ups")
    full = sorted(f["tDrawn"] for f in await page.evaluate("window.__spatialLive.frames") if f["tier"] == "full")
    out = []
    for i, up in enumerate(ups):
        nxt = ups[i + 1] if i + 1 < len(ups) else float("inf")
        got = [t for t in full if up < t < nxt]
        out.append(got[0] - up if got else None)
    return out


def _plan(rng: np.random.Generator, drags: int, decode_s: float, drag_s: float) -> list[tuple[float, int, float]]:
    """One session's drags: (start second, slider, fraction of its width to move to)."""
    t, out = rng.uniform(0, decode_s), []
    for d in range(drags):
        out.append((t, int(rng.integers(0, 4)), float(rng.choice([rng.uniform(0.15, 0.35), rng.uniform(0.65, 0.85)]))))
        t += drag_s + rng.uniform(0.3, 2.0) * decode_s
    return out


async def _session_drags(session: Session, plan: list[tuple[float, int, float]], t0: float, drag_s: float,
                         wait_s: float) -> None:
    for start, axis, fraction in plan:
        await asyncio.sleep(max(0.0, t0 + start - time.perf_counter()))
        up = await drag(session.page, axis, fraction, drag_s)
    try:  # the last release's image
        await session.page.wait_for_function(FULL_AFTER, arg=up, timeout=wait_s * 1000, polling=50)
    except Exception:  # noqa: BLE001  (no image in time is a figure: a release without its image)
        session.problems.append(f"no image {wait_s:.0f} s after the last release")


async def run_async(url: str, name: str, sessions: int, drags: int, drag_s: float, seed: int, open_s: float,
                    pid: int) -> dict:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import find_chromium
    from tests.support.serve import CHROMIUM_ARGS

    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS)
        # 1. alone
        t0 = time.perf_counter()
        alone = await open_walk(browser, url, name, open_s)
        out["first_open_s"] = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        for d in range(drags):
            up = await drag(alone.page, d % 4, float(rng.uniform(0.65, 0.85)), drag_s)
            await alone.page.wait_for_function(FULL_AFTER, arg=up, polling=50)
            await alone.page.wait_for_selector(IDLE, state="attached")
        alone_ms = await release_times(alone.page)
        out["alone_ms"] = alone_ms
        out["alone_peak_mb"] = vmhwm_mb(pid)
        decode_s = float(np.median([m for m in alone_ms if m is not None])) / 1000
        # 2. together: the alone session and sessions - 1 more, opened at once
        first_release = len(alone_ms)
        t0 = time.perf_counter()
        together = [alone] + list(await asyncio.gather(*(open_walk(browser, url, name, open_s)
                                                          for _ in range(sessions - 1))))
        out["open_together_s"] = time.perf_counter() - t0
        plans = [_plan(rng, drags, decode_s, drag_s) for _ in together]
        t0, together_t0 = time.perf_counter(), time.monotonic()
        wait_s = max(60.0, (sessions * drags + 2) * decode_s * 2)
        await asyncio.gather(*(_session_drags(s, plan, t0, drag_s, wait_s) for s, plan in zip(together, plans)))
        out["together_s"] = time.perf_counter() - t0
        out["together_ms"] = [(await release_times(s.page))[first_release if s is alone else 0:] for s in together]
        out["problems"] = []
        for s in together:
            out["problems"] += s.problems + await s.error_elements()
        len_alone_problems = len(alone.problems)
        out["plans"] = plans
        out["together_peak_mb"] = vmhwm_mb(pid)
        out["together_window"] = (together_t0, time.monotonic())
        # 3. alone again (the machine's load may have changed since 1.): the first session, after the others
        for s in together[1:]:
            await s.page.context.close()
        done = len(await alone.page.evaluate("window.__drags.ups"))
        for d in range(max(1, drags - 1)):
            up = await drag(alone.page, d % 4, float(rng.uniform(0.15, 0.35)), drag_s)
            await alone.page.wait_for_function(FULL_AFTER, arg=up, polling=50)
            await alone.page.wait_for_selector(IDLE, state="attached")
        out["alone_after_ms"] = (await release_times(alone.page))[done:]
        out["problems"] += alone.problems[len_alone_problems:]
        await browser.close()
    return out


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.is_file() else 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--drags", type=int, default=3, help="drags per session")
    ap.add_argument("--size", type=int, default=256, help="image side of the model, px")
    ap.add_argument("--config", default="sd", choices=sorted(CONFIGS))
    ap.add_argument("--drag-seconds", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--open-timeout", type=float, default=600.0, help="seconds a session may take to open the walk")
    ap.add_argument("--root", type=Path, default=None, help="where the random-weight folders are kept (reused)")
    ap.add_argument("--json", type=Path, default=None)
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(argv), config="tiny", size=32, sessions=2, drags=1, drag_seconds=0.3)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    root = a.root or tmp
    root.mkdir(parents=True, exist_ok=True)
    trace = tmp / "trace.jsonl"
    from tests.support.serve import stop

    # the server starts while the folder is made (diffusers' import and save_pretrained, or found under --root);
    # with --root, the app's cache (its linear preview fit, the data view's codes) is kept there for the next run
    proc, url, ready = spawn_folder(weight_folder_path(root, a.config, a.size), root,
                                    {"VAE_EXPLORER_TRACE": str(trace), "VAE_EXPLORER_LIVE": "on"})
    try:
        folder = random_weight_folder(root, a.config, a.size)
        ready()
        got = asyncio.run(run_async(url, folder.name, a.sessions, a.drags, a.drag_seconds, a.seed, a.open_timeout,
                                    proc.pid))
    finally:
        stop(proc)
    summary = trace_summary(read_trace(trace))
    log = root / f"streamlit-{folder.name}.log"
    problems = got["problems"] + [f"{n} traceback(s) in the app's log {log}" for n in [_tracebacks(log)] if n]
    alone = [m for m in got["alone_ms"] + got["alone_after_ms"] if m is not None]
    decode_ms = float(np.median(alone))  # before and after the sessions together: the load may change meanwhile
    together = [m for ms in got["together_ms"] for m in ms]
    shown = [m for m in together if m is not None]
    p95 = float(np.percentile(shown, 95)) if shown else float("nan")
    most = max((s["most_at_once"] for s in summary["sessions"].values()), default=0)
    most_live = max((s["most_live_at_once"] for s in summary["sessions"].values()), default=0)
    after = [s["blocks_after_cancel"] for s in summary["superseded"]]
    served = decode_seconds(read_trace(trace), *got["together_window"])
    grew = got["together_peak_mb"] - got["alone_peak_mb"]
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    print(f"{a.config} {a.size} px, {a.sessions} sessions x {a.drags} drags of {a.drag_seconds:g} s, load average "
          f"{load}: walk opened in {got['first_open_s']:.0f} s, {a.sessions - 1} more in {got['open_together_s']:.0f} s, "
          f"together phase {got['together_s']:.0f} s", flush=True)
    print(f"errors: {len(problems)} (target 0)" + "".join(f"\n  {p}" for p in problems[:20]))
    print(f"calls per session at once: at most {most_live} live, {most} counting a superseded call until it stopped "
          f"(target <= 1); calls running at once over all sessions: {summary['most_running_at_once']}")
    p50 = float(np.median(shown)) if shown else float("nan")
    print("one decode alone (release -> image), before the sessions together: "
          + ", ".join(f"{m / 1000:.1f}" for m in got["alone_ms"] if m is not None) + " s; after: "
          + ", ".join(f"{m / 1000:.1f}" for m in got["alone_after_ms"] if m is not None)
          + f" s; the server's decodes while together (trace, start -> end): median "
          f"{np.median(served) if served else float('nan'):.1f} s of {len(served)}")
    print(f"one decode alone (median of {len(alone)}): {decode_ms / 1000:.2f} s; together: "
          f"{len(shown)} of {len(together)} releases got their image, p50 {p50 / 1000:.2f} s, "
          f"p95 {p95 / 1000:.2f} s = {p95 / decode_ms:.2f} x one decode (target <= 4.5 x)")
    ran = sorted(s["blocks"] for s in summary["superseded"])
    print(f"superseded calls: {len(after)} (outcomes {summary['outcomes']}); blocks each ran after its cancel: "
          f"{sorted(after)} (max {max(after, default=0)}), in all: {ran}")
    print(f"app peak RSS: {got['alone_peak_mb']:.0f} MB after one session alone, {got['together_peak_mb']:.0f} MB "
          f"after {a.sessions} together: +{grew:.0f} MB (target <= +500 MB)", flush=True)
    if a.json:
        a.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()}, "load": load, **got,
                                      "decode_ms": decode_ms, "p95_ms": p95, "problems": problems,
                                      "trace": summary}, indent=2))


if __name__ == "__main__":
    main()
