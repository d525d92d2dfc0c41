"""No lost input under load: N sessions press keys on the Latent walk's first slider at once, in bursts.

    python -m bench.bench_burst                              # 8 sessions x 100 presses in 20 bursts
    python -m bench.bench_burst --sessions 3 --presses 30    # the suite's size (tests/browser/test_burst.py)
    python -m bench.bench_burst --busy 2                     # beside two busy loops (python -c "while 1: pass")

One headless Chromium, one page per session, against `streamlit run app.py` with the shipped conv-mnist5k and the
walk decoded on the server (--live off: every press is a rerun, and its image comes through the inference queue).
Each page runs its own bursts in the page (so the sessions press at once, not in the driver's turn): a burst is
--presses / --bursts ArrowRight (or ArrowLeft, alternating) key presses on the focused slider, --gap-ms apart;
3 s after a burst's last press the page's URL is read against the slider.

Figures, over every press of every session:
  lost     presses after which no new image was painted within 15 s (target 0)
  stale    bursts after which, 3 s on, the URL's first value is not the slider's (a copied link would show another
           image; target 0)
  p99      press -> the next new image painted (its source changed, decoded, one animation frame on), ms
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS, start, stop, streamlit_command

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
LOST_MS = 15_000
SETTLE_MS = 3_000

# In the page: arm() before each (trusted) key press notes the walk image's source and the time, and waits in the
# background for the next new source painted (decoded, one animation frame on), or gives up after lostMs;
# settled() reads the URL's first value against the slider's. Results in window.__burst.
WATCH_JS = """(lostMs) => {
  const out = window.__burst = {presses: [], waiting: 0};
  const image = () => [...document.querySelectorAll("[data-testid='stImageContainer']")].find((c) =>
    (c.querySelector("[data-testid='stImageCaption']")?.textContent ?? "").startsWith("decoded mean"))?.querySelector("img");
  window.__arm = () => {
    const before = image()?.src;
    const t0 = performance.now();
    out.waiting++;
    const check = () => {
      const img = image();
      if (img && img.src && img.src !== before && img.complete) {
        requestAnimationFrame(() => { out.presses.push(performance.now() - t0); out.waiting--; });
      } else if (performance.now() - t0 > lostMs) {
        out.presses.push(null); out.waiting--;
      } else setTimeout(check, 10);
    };
    setTimeout(check, 0);
  };
  window.__settled = () => {
    const v = new URL(location.href).searchParams.get("v");
    const slider = Number(document.querySelector("[data-testid='stSlider'] input[type=range]")?.value);
    const url = v === null ? null : Number(v.split(",")[0]);
    return {slider, url, stale: url === null || Math.abs(url - slider) > 1e-3};
  };
}"""


@dataclass
class BurstResult:
    """Every session's presses (ms to the next painted image, None: lost) and bursts ({slider, url, stale})."""

    presses: list[float | None]
    bursts: list[dict]

    @property
    def lost(self) -> int:
        return sum(1 for p in self.presses if p is None)

    @property
    def stale(self) -> int:
        return sum(1 for b in self.bursts if b["stale"])

    def p99(self) -> float:
        done = [p for p in self.presses if p is not None]
        return float(np.percentile(done, 99)) if done else float("nan")

    def p50(self) -> float:
        done = [p for p in self.presses if p is not None]
        return float(np.median(done)) if done else float("nan")


def serve_app(tmp: Path, models: str | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py --live off` on a free loopback port with a private cache; (process, URL)."""
    port = free_port()
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_MODELS=models or "",
               VAE_EXPLORER_DEFAULT_MODEL="conv-mnist5k")
    cmd = streamlit_command(ROOT / "app.py", port, ["--live", "off"])
    return start(cmd, port, tmp / "app.log", ROOT, env, timeout=180), f"http://127.0.0.1:{port}"


async def open_walk(browser, url: str):
    """A new session on the Latent walk, its first slider focused and the watcher installed."""
    pg = await (await browser.new_context(viewport={"width": 1280, "height": 1000})).new_page()
    pg.set_default_timeout(180_000)
    await pg.goto(f"{url}/walk")
    await pg.wait_for_selector(IDLE, state="attached")
    await pg.locator("[data-testid='stImageCaption']").filter(has_text="decoded mean").first.wait_for()
    await pg.wait_for_timeout(500)
    await pg.wait_for_selector(IDLE, state="attached")
    await pg.locator("[data-testid='stSlider'] input[type=range]").first.focus()
    await pg.evaluate(WATCH_JS, LOST_MS)
    return pg


async def session_bursts(pg, presses: int, bursts: int, gap_ms: int) -> tuple[list[float | None], list[dict]]:
    """One session's bursts of trusted key presses on its focused slider; (press -> paint ms or None, bursts)."""
    per = presses // bursts
    settled = []
    for b in range(bursts):
        key = "ArrowLeft" if b % 2 else "ArrowRight"
        for _ in range(per if b < bursts - 1 else presses - per * (bursts - 1)):
            await pg.evaluate("window.__arm()")
            await pg.keyboard.press(key)
            await asyncio.sleep(gap_ms / 1000)
        await asyncio.sleep(SETTLE_MS / 1000)
        settled.append(await pg.evaluate("window.__settled()"))
    while await pg.evaluate("window.__burst.waiting") > 0:
        await asyncio.sleep(0.5)
    return await pg.evaluate("window.__burst.presses"), settled


async def run_bursts_async(chromium: str, url: str, sessions: int, presses: int, bursts: int,
                           gap_ms: int) -> BurstResult:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        pages = [await open_walk(browser, url) for _ in range(sessions)]
        done = await asyncio.gather(*(session_bursts(pg, presses, bursts, gap_ms) for pg in pages))
        await browser.close()
    result = BurstResult([], [])
    for got, settled in done:
        result.presses += got
        result.bursts += settled
    return result


def run_bursts(chromium: str, url: str, sessions: int, presses: int, bursts: int, gap_ms: int) -> BurstResult:
    """`sessions` pages of one Chromium on the walk press at once, in bursts; every press and burst."""
    return asyncio.run(run_bursts_async(chromium, url, sessions, presses, bursts, gap_ms))


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--presses", type=int, default=100, help="key presses per session")
    ap.add_argument("--bursts", type=int, default=20, help="bursts per session (18 or more)")
    ap.add_argument("--gap-ms", type=int, default=80, help="time between two presses of a burst")
    ap.add_argument("--busy", type=int, default=0, help="busy loops (python -c 'while 1: pass') beside the run")
    ap.add_argument("--models", help="an extra folder of checkpoints (the app's --models)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(argv), sessions=1, presses=2, bursts=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    proc, url = serve_app(tmp, a.models)
    loops = busy_loops(a.busy)
    try:
        t0 = time.perf_counter()
        r = run_bursts(a.chromium, url, a.sessions, a.presses, a.bursts, a.gap_ms)
        seconds = time.perf_counter() - t0
    finally:
        for loop in loops:
            loop.kill()
        stop(proc)
    print(f"{a.sessions} sessions x {a.presses} presses in {a.bursts} bursts ({a.gap_ms} ms apart), "
          f"{a.busy} busy loops, load average {os.getloadavg()[0]:.1f}: {seconds:.0f} s")
    print(f"lost presses {r.lost} of {len(r.presses)}; stale URLs {r.stale} of {len(r.bursts)} bursts; "
          f"press -> paint p50 {r.p50():.0f} ms, p99 {r.p99():.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
