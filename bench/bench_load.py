"""Many sessions at once: N browser contexts of one headless Chromium drive the real app together.

    python -m bench.bench_load [--sessions 4 8 16] [--paths live server] [--rounds 3] [--drag-seconds 2] [--json out.json]

The server (`streamlit run app.py`, this checkout's live-component files via ui.components.devserver) is pinned to
core 0 and the browser with this driver to core 1 (sched_setaffinity, as `taskset -c`), for each decoding path:
`live` (VAE_EXPLORER_LIVE=on: a drag decodes in the page, a release reruns the server) and `server`
(VAE_EXPLORER_LIVE=off: every slider change is a server rerun, today's path). Per N, every session at once:

  drag      live: mouse down on the first slider, 60 Hz pointer moves for --drag-seconds, mouse up (the release);
            server: the same slider moved by 10 key presses a second for --drag-seconds (each one a rerun)
  release   (live) the mouse-up's rerun: mouse up -> the script idle again
  map       the "Latent map" page opened -> idle      upload  a PNG uploaded on "Reconstruct" -> idle

Figures, per path and N:
  errors          page errors, exceptions or st.error shown, HTTP >= 500, timeouts (target 0)
  page p95 ms     per interaction on the driver's clock (release / map / upload: action -> idle; drag frames:
                  the page's event -> image painted, from window.__liveLatent.frames)
  server ms/int   server CPU time (utime + stime of the server and its children, /proc/PID/stat) per interaction,
                  p95 over the rounds (each round: every session does it once)
  drag server s   the server's CPU seconds while all N sessions drag (before the releases): the server's load
  MB/session      server RSS growth over the idle server, per open session
  client busy     CPU share of core 1 used by Chromium + this driver during the phase; >= 0.85 marks the page
                  figures as bound by the client's core ("client-bound"), not the server's
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.browser.driver import IDLE
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS, spawn_streamlit, stop
from ui.components.devserver import ROOT, cached_assets, wait_healthy

LIVE_NOTE = "Decoding in your browser (onnxruntime-web, wasm)"
FIRST_FRAME = "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.firstFrame)"
# many contexts at once, most of them in the background: keep their timers and renderers running
ARGS = [*CHROMIUM_ARGS, "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]
CLIENT_BOUND = 0.85
TICKS = os.sysconf("SC_CLK_TCK")


# -- /proc ---------------------------------------------------------------------------------------------------------
def cpu_seconds(pid: int, children: bool = True) -> float:
    """utime + stime of pid (and of its waited-for children), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> list[int]:
    """Every live process below pid (by parent id)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of pid and every live descendant (this driver + Playwright's node + Chromium)."""
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            total += cpu_seconds(p, children=False)
        except (OSError, ValueError):
            continue
    return total


class Meter:
    """Server CPU, client CPU and wall time over a phase."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def __enter__(self) -> "Meter":
        self.t0, self.s0, self.c0 = time.perf_counter(), cpu_seconds(self.server_pid), tree_cpu(os.getpid())
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.server = cpu_seconds(self.server_pid) - self.s0
        self.client_busy = (tree_cpu(os.getpid()) - self.c0) / max(self.wall, 1e-9)


# -- one session -------------------------------------------------------------------------------------------------
@dataclass
class Session:
    page: object
    errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("response", lambda r: r.status >= 500 and self.errors.append(f"HTTP {r.status} {r.url}"))

    async def idle(self, settle_ms: int = 300, timeout_ms: int = 180_000) -> None:
        await self.page.wait_for_timeout(pause(settle_ms))
        await self.page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)

    async def shown_errors(self) -> list[str]:
        texts = await self.page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").all_inner_texts()
        return [t[:200] for t in texts]

    async def go(self, title: str) -> float:
        t0 = time.perf_counter()
        await self.page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).first.click()
        await self.page.locator("h1").filter(has_text=title).first.wait_for(timeout=180_000)
        await self.idle(200)
        return (time.perf_counter() - t0) * 1000


async def guarded(session: Session, coro, what: str):
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001  (a timeout or a closed page is an error of the run, counted)
        session.errors.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        return None


async def open_walk(session: Session, url: str, live: bool) -> None:
    page = session.page
    await page.goto(f"{url}/walk")
    await page.locator("h1").filter(has_text="Latent walk").first.wait_for(timeout=300_000)
    if live:
        await page.get_by_text(LIVE_NOTE).first.wait_for(timeout=300_000)
        await page.wait_for_function(FIRST_FRAME, timeout=300_000)
    await session.idle(500, 300_000)


async def _meet(barrier: asyncio.Barrier, times: int) -> None:
    for _ in range(times):
        await barrier.wait()


async def live_drag(session: Session, seconds: float, barrier: asyncio.Barrier, hz: float = 60.0) -> dict | None:
    """Mouse down on the live slider, moves at hz, (all sessions meet at the barrier: the drag phase's server CPU
    is read there, before any release), mouse up; returns the frames' event -> painted times and the release's."""
    page, met = session.page, 0
    try:
        box = await page.locator("input[type=range]").first.bounding_box()
        x0, y = box["x"] + 0.5 * box["width"], box["y"] + box["height"] / 2
        span = 0.25 * box["width"]
        t_start = await page.evaluate("performance.now()")  # frames keeps the last 400 only: select by time
        await page.mouse.move(x0, y)
        await page.mouse.down()
        steps = int(seconds * hz)
        t0 = time.perf_counter()
        for i in range(1, steps + 1):
            await page.mouse.move(x0 + span * np.sin(1.5 * np.pi * i / steps), y)  # ends a span away: a new value
            wait = t0 + i / hz - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        await _meet(barrier, 2)
        met = 2
        t1 = time.perf_counter()
        await page.mouse.up()
        await session.idle(300)
        release_ms = (time.perf_counter() - t1) * 1000
        frames = await page.evaluate("t => window.__liveLatent.frames.filter(f => f.dragging && f.tDrawn >= t)"
                                     ".map(f => f.tDrawn - f.tEvent)", t_start)
        return {"frames_ms": frames, "release_ms": release_ms}
    except Exception as exc:  # noqa: BLE001  (counted as an error of the run)
        session.errors.append(f"drag: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        await _meet(barrier, 2 - met)
        return None


async def server_drag(session: Session, seconds: float, barrier: asyncio.Barrier, hz: float = 10.0) -> dict | None:
    """Today's path: the first slider moved by key presses at hz (each one a server rerun), then idle."""
    page, met = session.page, 0
    try:
        handle = page.get_by_role("slider").first
        await handle.focus()
        key = "ArrowRight" if np.random.random() < 0.5 else "ArrowLeft"
        t0 = time.perf_counter()
        steps = int(seconds * hz)
        for i in range(1, steps + 1):
            await page.keyboard.press(key)
            wait = t0 + i / hz - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        t1 = time.perf_counter()
        await session.idle(300)
        release_ms = (time.perf_counter() - t1) * 1000
        await _meet(barrier, 2)
        return {"frames_ms": [], "release_ms": release_ms}
    except Exception as exc:  # noqa: BLE001
        session.errors.append(f"drag: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        await _meet(barrier, 2 - met)
        return None


def png_bytes(seed: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = np.zeros((28, 28), np.uint8)
    r, c = rng.integers(6, 22, size=2)
    img[max(0, r - 6):r + 6, max(0, c - 2):c + 2] = 255  # a bar, like a "1"
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


async def upload(session: Session, seed: int, in_page: bool = False) -> float:
    """One PNG through the uploader; in_page: by the page's own script (tests/browser/driver.py's
    UPLOAD_IN_PAGE_JS), which leaves no DevTools handle that would keep the page alive, for memory figures."""
    page = session.page
    t0 = time.perf_counter()
    inp = page.locator("[data-testid='stFileUploader'] input[type='file']").first
    if in_page:
        import base64

        from tests.browser import driver

        await inp.wait_for(state="attached", timeout=180_000)
        await page.evaluate(driver.UPLOAD_IN_PAGE_JS, [f"digit-{seed}.png", "image/png",
                                                       base64.b64encode(png_bytes(seed)).decode()])
    else:
        await inp.set_input_files([{"name": f"digit-{seed}.png", "mimeType": "image/png", "buffer": png_bytes(seed)}])
    await page.get_by_text(f"digit-{seed}.png").first.wait_for(timeout=180_000)
    await session.idle(500)
    return (time.perf_counter() - t0) * 1000


def p95(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.percentile(values, 95)) if values else float("nan")


# -- one run -----------------------------------------------------------------------------------------------------
async def run_sessions(browser, url: str, server_pid: int, n: int, live: bool, rounds: int, drag_seconds: float,
                       idle_rss: float) -> dict:
    contexts = [await browser.new_context(viewport={"width": 1300, "height": 950}) for _ in range(n)]
    sessions = [Session(await ctx.new_page()) for ctx in contexts]
    for s in sessions:
        s.watch()
        s.page.set_default_timeout(180_000)
    row: dict = {"path": "live" if live else "server", "sessions": n}
    await asyncio.gather(*(guarded(s, open_walk(s, url, live), "open walk") for s in sessions))
    drag_server, drag_client, frames, releases, release_cpu = [], [], [], [], []
    for _ in range(rounds):
        barrier = asyncio.Barrier(n + 1)
        drag = live_drag if live else server_drag
        tasks = [asyncio.ensure_future(drag(s, drag_seconds, barrier)) for s in sessions]
        with Meter(server_pid) as m:
            await barrier.wait()  # every session's drag is over (live: mouse still down)
        drag_server.append(m.server)
        drag_client.append(m.client_busy)
        with Meter(server_pid) as r:
            await barrier.wait()  # releases go out now
            got = await asyncio.gather(*tasks)
        release_cpu.append(r.server / n)
        for g in got:
            if g:
                frames += g["frames_ms"]
                releases.append(g["release_ms"])
    row.update(drag_server_s=float(np.mean(drag_server)), drag_client_busy=float(np.mean(drag_client)),
               drag_frames=len(frames), frame_p95_ms=p95(frames), release_p95_ms=p95(releases),
               release_server_ms_p95=p95([c * 1000 for c in release_cpu]) if live else float("nan"))  # no release
    for phase, title in (("map", "Latent map"), ("upload", "Reconstruct")):
        with Meter(server_pid) as m:
            times = await asyncio.gather(*(guarded(s, s.go(title), phase) for s in sessions))
            if phase == "upload":
                times = await asyncio.gather(*(guarded(s, upload(s, i), phase) for i, s in enumerate(sessions)))
        row[f"{phase}_p95_ms"] = p95(times)
        row[f"{phase}_server_ms"] = m.server / n * 1000
        row[f"{phase}_client_busy"] = m.client_busy
    shown = await asyncio.gather(*(s.shown_errors() for s in sessions))
    row["rss_mb"] = rss_mb(server_pid)
    row["mb_per_session"] = (row["rss_mb"] - idle_rss) / n
    errors = [e for s in sessions for e in s.errors] + [e for texts in shown for e in texts]
    row["errors"] = len(errors)
    row["error_samples"] = errors[:5]
    row["client_bound"] = sorted(k.replace("_client_busy", "") for k, v in row.items()
                                 if k.endswith("_client_busy") and v >= CLIENT_BOUND)
    for ctx in contexts:
        await ctx.close()
    return row


async def run_path(live: bool, counts: list[int], rounds: int, drag_seconds: float, tmp: Path, assets: Path,
                   settle: float = 5.0, warm: bool = True) -> list[dict]:
    """Serve the app with one decoding path and run every N of `counts`; warm: one session visits the walk, the
    map and Reconstruct first (imports, model, export, data set), so that the measured sessions find a warm
    server (--smoke leaves it out: its one session pays the cold start)."""
    from playwright.async_api import async_playwright

    port = free_port()
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_LIVE="on" if live else "off")
    os.sched_setaffinity(0, {0})  # the server inherits core 0 (taskset -c 0) ...
    try:
        log = tmp / f"streamlit-{'live' if live else 'server'}.log"
        proc = spawn_streamlit(ROOT / "app.py", port, log, env=env, site=assets)  # awaited once Chromium is up
    finally:
        os.sched_setaffinity(0, {1})  # ... and this driver, Playwright and Chromium get core 1
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        async with async_playwright() as p:
            chromium = shutil.which("chromium") or "/usr/bin/chromium"
            browser = await p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            wait_healthy(proc, port, log)
            if warm:
                first = Session(await (await browser.new_context()).new_page())
                await open_walk(first, url, live)  # one session first: imports, model, export, data set
                await first.go("Latent map")
                await first.go("Reconstruct")
                await first.page.context.close()
                await asyncio.sleep(0.6 * settle)
            idle_rss = rss_mb(proc.pid)
            for i, n in enumerate(counts):
                row = await run_sessions(browser, url, proc.pid, n, live, rounds, drag_seconds, idle_rss)
                row["idle_rss_mb"] = idle_rss
                rows.append(row)
                print(json.dumps(row), flush=True)
                if i < len(counts) - 1:
                    await asyncio.sleep(settle)  # closed sessions are dropped by the server before the next N
            await browser.close()
    finally:
        stop(proc)
    return rows


def table(rows: list[dict]) -> str:
    head = (f"{'path':6} {'N':>3} {'err':>3} {'frame p95':>9} {'release p95':>11} {'rel srv ms':>10} "
            f"{'map p95':>8} {'upload p95':>10} {'drag srv s':>10} {'MB/sess':>7}  client-bound")
    lines = [head]
    for r in rows:
        lines.append(f"{r['path']:6} {r['sessions']:3d} {r['errors']:3d} {r['frame_p95_ms']:9.1f} "
                     f"{r['release_p95_ms']:11.0f} {r['release_server_ms_p95']:10.0f} {r['map_p95_ms']:8.0f} "
                     f"{r['upload_p95_ms']:10.0f} {r['drag_server_s']:10.2f} {r['mb_per_session']:7.1f}  "
                     f"{','.join(r['client_bound']) or '-'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--paths", nargs="+", choices=["live", "server"], default=["live", "server"])
    parser.add_argument("--rounds", type=int, default=3, help="drag + release rounds per N")
    parser.add_argument("--drag-seconds", type=float, default=2.0)
    parser.add_argument("--json", type=Path)
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), sessions=[1], paths=["live"], rounds=1, drag_seconds=0.5)
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        raise SystemExit("needs cores 0 and 1 (server on 0, browser on 1)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    assets = cached_assets()
    rows = []
    for path in args.paths:
        rows += asyncio.run(run_path(path == "live", args.sessions, args.rounds, args.drag_seconds, tmp, assets,
                                     settle=0.5 if args.smoke else 5.0, warm=not args.smoke))
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
