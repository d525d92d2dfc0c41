"""No lost input under load: N sessions press keys on the Latent walk's first slider at once, in bursts.

    python -m bench.bench_burst                              # 8 sessions x 100 presses in 20 bursts
    python -m bench.bench_burst --sessions 3 --presses 30    # a short run
    python -m bench.bench_burst --busy 2                     # beside two busy loops (python -c "while 1: pass")
    python -m bench.bench_burst --sessions 3 --presses 30 --bursts 2 --check    # the test suite's check
    python -m bench.bench_burst --smoke                      # 1 x 4 in 2 bursts, 0.3 s settling

--check exits 1 when a session lost input or a burst left a stale URL. The test suite checks that no input is lost
with 3 sessions x 30 presses in 2 bursts (one each way, tests/test_benches.py::test_no_input_lost_in_bursts), and
runs --smoke (one session: the check covers several) with every other benchmark's.

One headless Chromium, one page per session, against `streamlit run app.py` with the shipped conv-mnist5k and the
walk decoded on the server (--live off: every press is a rerun, and its image comes through the inference queue).
Each page runs its own bursts in the page (so the sessions press at once, not in the driver's turn): a burst is
--presses / --bursts ArrowRight (or ArrowLeft, alternating) key presses on the focused slider, --gap-ms apart;
3 s after a burst's last press, once the app's script is idle, the page's URL is read against the slider.

Figures:
  lost       sessions whose final value is not the one their key presses lead to (target 0). The driver works out
             each session's value from its own presses (the slider's start, one step per ArrowRight / ArrowLeft,
             clamped to the slider's range); after the last burst has settled, the page must hold that value in
             the slider and in the URL, and show that value's image: the image a fresh page opened at the
             session's URL shows (Streamlit names an image by its bytes, so equal images have equal sources)
  stale      bursts after which, 3 s on and with the script idle, the URL's first value is not the slider's (a copied
             link would show another image; target 0)
  unpainted  presses after which no new image was painted within 15 s
  p99        press -> the next new image painted (its source changed, decoded, one animation frame on), ms
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.browser.driver import IDLE
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS, healthy_or_stopped, spawn_streamlit, stop

ROOT = Path(__file__).resolve().parents[1]
LOST_MS = 15_000
SETTLE_MS = 3_000  # after a burst's last press, before its URL is read (--settle-ms)
TOLERANCE = 1e-3  # between two slider values (the URL writes 4 significant digits; the slider's step is 0.1)

# In the page: arm() before each (trusted) key press notes the walk image's source and the time, and waits in the
# background for the next new source painted (decoded, one animation frame on), or gives up after lostMs;
# settled() reads the URL's first value against the slider's; slider() the slider's value and range; final() what the
# page holds and shows at the end (slider, URL, the walk image's source). Results in window.__burst.
WATCH_JS = """(lostMs) => {
  const TOLERANCE = %g;
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
  const range = () => document.querySelector("[data-testid='stSlider'] input[type=range]");
  window.__settled = () => {
    const v = new URL(location.href).searchParams.get("v");
    const slider = Number(range()?.value);
    const url = v === null ? null : Number(v.split(",")[0]);
    return {slider, url, stale: url === null || !(Math.abs(url - slider) <= TOLERANCE)};
  };
  window.__slider = () => ({value: Number(range().value), min: Number(range().min), max: Number(range().max),
                            step: Number(range().step)});
  window.__final = () => ({...window.__settled(), href: location.href, image: image()?.src ?? null});
}""" % TOLERANCE


def pressed_value(start: float, keys: list[str], low: float, high: float, step: float) -> float:
    """The slider value that key presses lead to from `start`: one step up per ArrowRight, down per ArrowLeft,
    clamped to [low, high] (a range input's keyboard steps, on the grid low + k * step)."""
    k, top = round((start - low) / step), round((high - low) / step)
    for key in keys:
        k = min(top, max(0, k + (1 if key == "ArrowRight" else -1)))
    return low + k * step


@dataclass
class SessionEnd:
    """One session after its last burst: the value its presses lead to, and what the page holds and shows."""

    expected: float  # worked out by the driver from its own key presses (pressed_value)
    slider: float | None  # the slider's value in the page
    url: float | None  # the URL's first value (what a copied link holds)
    href: str
    image: str | None  # the walk image's source
    reference: str | None = None  # the image a fresh page at the session's URL shows (None: not opened)

    def problems(self) -> list[str]:
        """What differs from the expected value; [] when the session ended where its presses led."""
        out = [f"{what} {got}" for what, got in (("slider", self.slider), ("URL", self.url))
               if got is None or not abs(got - self.expected) <= TOLERANCE]
        if self.image is None or self.image != self.reference:
            out.append(f"image {self.image} (at the URL: {self.reference})")
        return out


@dataclass
class BurstResult:
    """Every session's presses (ms to the next painted image, None: none in 15 s), bursts ({slider, url, stale})
    and end (SessionEnd)."""

    presses: list[float | None]
    bursts: list[dict]
    ends: list[SessionEnd]

    @property
    def lost(self) -> int:
        """Sessions whose final value (slider, URL or image) is not the one their presses lead to."""
        return sum(1 for end in self.ends if end.problems())

    @property
    def stale(self) -> int:
        return sum(1 for b in self.bursts if b["stale"])

    @property
    def unpainted(self) -> int:
        return sum(1 for p in self.presses if p is None)

    def p99(self) -> float:
        done = [p for p in self.presses if p is not None]
        return float(np.percentile(done, 99)) if done else float("nan")

    def p50(self) -> float:
        done = [p for p in self.presses if p is not None]
        return float(np.median(done)) if done else float("nan")


def serve_app(tmp: Path, models: str | None = None) -> tuple[subprocess.Popen, str, Callable[[], object]]:
    """`streamlit run app.py --live off` on a free loopback port with a private cache, started and not awaited:
    (process, URL, a function that returns once it answers): the caller launches Chromium meanwhile."""
    port = free_port()
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_MODELS=models or "",
               VAE_EXPLORER_DEFAULT_MODEL="conv-mnist5k")
    proc = spawn_streamlit(ROOT / "app.py", port, tmp / "app.log", env=env, app_args=["--live", "off"])
    return proc, f"http://127.0.0.1:{port}", lambda: healthy_or_stopped(proc, port, tmp / "app.log")


async def open_walk(browser, address: str, context=None):
    """A new session on the Latent walk (`address`: the app's URL, or a walk link), its first slider focused and
    the watcher installed; a new tab of `context`, else of a new browser context."""
    context = context or await browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = await context.new_page()
    pg.set_default_timeout(180_000)
    await pg.goto(address if "/walk" in address else f"{address}/walk")
    await pg.wait_for_selector(IDLE, state="attached")
    await pg.locator("[data-testid='stImageCaption']").filter(has_text="decoded mean").first.wait_for()
    await pg.wait_for_timeout(pause(500))
    await pg.wait_for_selector(IDLE, state="attached")
    await pg.locator("[data-testid='stSlider'] input[type=range]").first.focus()
    await pg.evaluate(WATCH_JS, LOST_MS)
    return pg


async def settled_page(pg, settle_ms: int) -> None:
    """Wait until the page has settled: settle_ms on, with Streamlit's script idle."""
    await asyncio.sleep(settle_ms / 1000)
    await pg.wait_for_selector(IDLE, state="attached")


async def session_bursts(pg, presses: int, bursts: int, gap_ms: int,
                         settle_ms: int) -> tuple[list[float | None], list[dict], SessionEnd]:
    """One session's bursts of trusted key presses on its focused slider; (press -> paint ms or None, bursts,
    its end: the value its presses lead to against what the page then holds and shows)."""
    slider = await pg.evaluate("window.__slider()")
    per = presses // bursts
    settled, keys = [], []
    for b in range(bursts):
        key = "ArrowLeft" if b % 2 else "ArrowRight"
        for _ in range(per if b < bursts - 1 else presses - per * (bursts - 1)):
            await pg.evaluate("window.__arm()")
            await pg.keyboard.press(key)
            keys.append(key)
            await asyncio.sleep(gap_ms / 1000)
        await settled_page(pg, settle_ms)  # on, and the script idle: a URL still behind then is one a link would keep
        settled.append(await pg.evaluate("window.__settled()"))
    waited = False
    while await pg.evaluate("window.__burst.waiting") > 0:
        waited = True
        await asyncio.sleep(0.5)
    if waited:  # a paint came after the last burst had settled: settle again (else it settled just above)
        await settled_page(pg, settle_ms)
    final = await pg.evaluate("window.__final()")
    expected = pressed_value(slider["value"], keys, slider["min"], slider["max"], slider["step"])
    end = SessionEnd(expected, final["slider"], final["url"], final["href"], final["image"])
    return await pg.evaluate("window.__burst.presses"), settled, end


async def reference_images(browser, links: dict[str, object]) -> dict[str, str | None]:
    """The walk image's source on a fresh page at each link, the links opened at once after the bursts, each in a
    new tab of the browser context it was copied from (link -> that context): a new session, as a pasted link
    opens one, that finds Streamlit's scripts in the context's cache."""
    async def reference(href: str, context) -> str | None:
        pg = await open_walk(browser, href, context)  # its first run, for this link's values, has drawn its image
        image = (await pg.evaluate("window.__final()"))["image"]
        await pg.close()
        return image

    hrefs = sorted(links)
    return dict(zip(hrefs, await asyncio.gather(*(reference(href, links[href]) for href in hrefs))))


async def run_bursts_async(chromium: str, url: str, sessions: int, presses: int, bursts: int, gap_ms: int,
                           settle_ms: int, ready: Callable[[], object]) -> BurstResult:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        t0 = time.perf_counter()
        browser = await p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        await asyncio.to_thread(ready)
        pages = await asyncio.gather(*(open_walk(browser, url) for _ in range(sessions)))
        t1 = time.perf_counter()
        done = await asyncio.gather(*(session_bursts(pg, presses, bursts, gap_ms, settle_ms) for pg in pages))
        t2 = time.perf_counter()
        references = await reference_images(browser, {end.href: pg.context for pg, (_, _, end) in zip(pages, done)})
        await browser.close()
    print(f"sessions opened in {t1 - t0:.1f} s, bursts {t2 - t1:.1f} s, the links' reference pages "
          f"{time.perf_counter() - t2:.1f} s", flush=True)
    result = BurstResult([], [], [])
    for got, settled, end in done:
        end.reference = references[end.href]
        result.presses += got
        result.bursts += settled
        result.ends.append(end)
    return result


def run_bursts(chromium: str, url: str, sessions: int, presses: int, bursts: int, gap_ms: int,
               settle_ms: int = SETTLE_MS, ready: Callable[[], object] = lambda: None) -> BurstResult:
    """`sessions` pages of one Chromium on the walk press at once, in bursts; every press and burst. `ready`
    returns once the app answers (it is called once Chromium has started)."""
    return asyncio.run(run_bursts_async(chromium, url, sessions, presses, bursts, gap_ms, settle_ms, ready))


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--presses", type=int, default=100, help="key presses per session")
    ap.add_argument("--bursts", type=int, default=20, help="bursts per session (18 or more)")
    ap.add_argument("--gap-ms", type=int, default=80, help="time between two presses of a burst")
    ap.add_argument("--settle-ms", type=int, default=SETTLE_MS,
                    help="after a burst's last press, wait this long and until the script is idle, then read the URL")
    ap.add_argument("--busy", type=int, default=0, help="busy loops (python -c 'while 1: pass') beside the run")
    ap.add_argument("--models", help="an extra folder of checkpoints (the app's --models)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--check", action="store_true", help="exit 1 on a lost session or a stale URL")
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(argv), sessions=1, presses=4, bursts=2, settle_ms=300)
    tmp = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    proc, url, ready = serve_app(tmp, a.models)
    loops = busy_loops(a.busy)
    try:
        t0 = time.perf_counter()
        r = run_bursts(a.chromium, url, a.sessions, a.presses, a.bursts, a.gap_ms, a.settle_ms, ready)
        seconds = time.perf_counter() - t0
    finally:
        for loop in loops:
            loop.kill()
        stop(proc)
    print(f"{a.sessions} sessions x {a.presses} presses in {a.bursts} bursts ({a.gap_ms} ms apart), "
          f"{a.busy} busy loops, load average {os.getloadavg()[0]:.1f}: {seconds:.0f} s")
    print(f"lost sessions {r.lost} of {len(r.ends)} (final value not the one their presses lead to); "
          f"stale URLs {r.stale} of {len(r.bursts)} bursts; unpainted presses {r.unpainted} of {len(r.presses)}; "
          f"press -> paint p50 {r.p50():.0f} ms, p99 {r.p99():.0f} ms")
    for i, end in enumerate(r.ends):
        if end.problems():
            print(f"  session {i}: pressed to {end.expected:g}, but " + "; ".join(end.problems()))
    if a.check and (r.lost or r.stale or len(r.presses) != a.sessions * a.presses):
        print(f"check failed: {r.lost} lost, {r.stale} stale, {len(r.presses)} of {a.sessions * a.presses} presses "
              f"timed; bursts {r.bursts}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
