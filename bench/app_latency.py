"""Latency of the dashboard in real headless Chromium, against the bare Streamlit page, in the same run.

    python -m bench.app_latency                 # starts both servers, shipped conv-mnist5k model, 60 moves
    python -m bench.app_latency --n 100 --model conv-mnist5k --models-dir pretrained

Measured (page clock, the method of /work/shared/bench/slider_latency_probe.py: key press on a focused slider ->
the first image's new source loaded, decoded and on the next animation frame):
  1. first load: a fresh server's first session, goto -> the Reconstruct page painted (cold: imports, model),
     then a new tab on the warm server;
  2. slider: the app's Latent walk page and the bare page in turns (A B A B ...), n moves each;
  3. map: in-app navigation (sidebar link) -> the map's WebGL scatter painted, first time and repeats;
  4. slider while UMAP computes in the background (another data set, nothing cached), against idle.
Targets on 2 cores: app p95 <= bare p95; map <= 1.5 s first, <= 1 s after; first load <= 5 s; slider during
UMAP p95 <= 1.5 x idle p95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.browser import driver
from tests.browser.driver import IDLE
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS as ARGS
from tests.support.serve import spawn_streamlit, stop
from ui.components.devserver import wait_healthy

ROOT = Path(__file__).resolve().parent.parent
BARE_CANDIDATES = [Path("/work/shared/bench/bare_streamlit_page.py"), ROOT / "bench" / "bare_streamlit_page.py"]
IMG = "[data-testid='stImage'] img"
PRESS = """([key, sel]) => new Promise((resolve, reject) => {
  const first = () => document.querySelector(sel);
  const before = first()?.src;
  const t0 = performance.now();
  const done = (img) => img.decode().catch(() => {}).then(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const obs = new MutationObserver(() => {
    const img = first();
    if (img && img.src !== before) { obs.disconnect(); img.complete ? done(img) : img.addEventListener('load', () => done(img), {once: true}); }
  });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  setTimeout(() => { obs.disconnect(); reject(new Error('no new image within 10 s')); }, 10000);
  document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
})"""
# click a sidebar link and resolve when the map's WebGL scatter has drawn and a frame has passed
NAV_TO_MAP = """(title) => new Promise((resolve, reject) => {
  const link = [...document.querySelectorAll("[data-testid='stSidebarNav'] a")].find(a => a.textContent.includes(title));
  const t0 = performance.now();
  const ready = () => {
    const plot = document.querySelector('.js-plotly-plot');
    const gl = plot && plot.querySelector('canvas');
    const h1 = [...document.querySelectorAll('h1')].some(h => h.textContent.includes(title));
    return h1 && plot && plot._fullLayout && ((gl && gl.width > 0) || plot.querySelector('.scatterlayer .point'));
  };
  const check = () => {
    if (ready()) { requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0))); return; }
    if (performance.now() - t0 > 30000) { reject(new Error('map not painted within 30 s')); return; }
    requestAnimationFrame(check);
  };
  link.click();
  requestAnimationFrame(check);
})"""


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[max(0, int(0.95 * len(s)) - 1)]


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<34} n={len(values):3d}  median={statistics.median(values):6.0f} ms  p95={p95(values):6.0f} ms  "
            f"max={max(values):6.0f} ms")


def wait_idle(pg, settle_ms: int = 300) -> None:
    driver.wait_idle(pg, pause(settle_ms))


def choose(pg, label: str, text: str) -> None:
    import re

    pg.get_by_role("combobox", name=label).click()
    pg.get_by_role("option").filter(has_text=re.compile("^" + re.escape(text))).first.click()
    wait_idle(pg)


def first_load(browser, url: str, keep: bool = False):
    """goto -> Reconstruct page painted with a model chosen (ms, wall clock of the test driver); with keep, (ms,
    the page) and the page stays open."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    t0 = time.perf_counter()
    pg.goto(url)
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)
    pg.locator("h1").filter(has_text="Reconstruct").wait_for(timeout=120_000)
    pg.get_by_role("combobox", name="Checkpoint").wait_for()
    pg.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    ms = 1000 * (time.perf_counter() - t0)
    if keep:
        return ms, pg
    ctx.close()
    return ms


def show_walk(pg, model: str):
    """The Latent walk of `model` on `pg`, a page of the app already open."""
    if not pg.get_by_role("combobox", name="Checkpoint").input_value().startswith(model):
        choose(pg, "Checkpoint", model)
    pg.locator("[data-testid='stSidebarNav'] a").filter(has_text="Latent walk").click()
    pg.locator("h1").filter(has_text="Latent walk").wait_for()
    wait_idle(pg)
    return pg


def open_walk(browser, url: str, model: str):
    """A new session on the app at `url`, on the Latent walk of `model`."""
    pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    pg.goto(url)
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)
    return show_walk(pg, model)


def focus_walk_slider(pg) -> None:
    slider = pg.get_by_role("slider").first
    slider.wait_for()
    slider.focus()


def start_bare(browser, url: str):
    """A page of the bare app, its navigation begun: it loads while the driver goes on (finish_bare awaits it)."""
    pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    pg.goto(url, wait_until="commit")
    return pg


def finish_bare(pg):
    """The bare page once loaded and idle, its slider focused."""
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)
    pg.get_by_role("slider").first.wait_for()
    pg.get_by_role("slider").first.focus()
    return pg


def slider_turns(pages: list, n: int) -> list[list[float]]:
    keys = ["ArrowRight"] * (n // 2) + ["ArrowLeft"] * (n - n // 2)
    out: list[list[float]] = [[] for _ in pages]
    for k in keys:
        for i, pg in enumerate(pages):
            pg.bring_to_front()
            out[i].append(pg.evaluate(PRESS, [k, IMG]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="slider moves per page and phase (half right, half left)")
    ap.add_argument("--model", default="conv-mnist5k", help="checkpoint folder name to use")
    ap.add_argument("--models-dir", help="extra folder of checkpoints (passed to the app as --models)")
    ap.add_argument("--umap-dataset", default="digits", help="data set whose UMAP is computed during phase 4")
    ap.add_argument("--map-repeats", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--map-renderer", choices=["webgl", "svg"], default="webgl", help="passed to the app")
    ap.add_argument("--warm-loads", type=int, default=3, help="first loads on the warm server (at least 1)")
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(), n=2, map_repeats=1, warm_loads=1)
    if a.warm_loads < 1:
        ap.error(f"--warm-loads: {a.warm_loads}; accepted: 1 or more (the last warm page goes on to the walk)")
    from playwright.sync_api import sync_playwright

    bare_script = next((p for p in BARE_CANDIDATES if p.is_file()), None)
    if bare_script is None:
        raise SystemExit("bare_streamlit_page.py not found (looked in /work/shared/bench and bench/)")
    tmp = Path(tempfile.mkdtemp(prefix="app-latency-"))
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_DEFAULT_MODEL=a.model)
    # --live off: the walk's sliders rerun the server, as the bare page does (the in-page decoding path has its own
    # benchmark, bench_live_drag); with it on, a key press changes no st.image
    extra = (["--models", a.models_dir] if a.models_dir else []) + ["--map-renderer", a.map_renderer, "--live", "off"]
    bare_port, app_port = free_port(), free_port()
    bare = app = None
    results: dict[str, object] = {}
    try:
        # both servers start side by side (each a Python process of its own) while Chromium starts, then each
        # is awaited
        bare = spawn_streamlit(bare_script, bare_port, tmp / "bare.log", cwd=bare_script.parent)
        app = spawn_streamlit(ROOT / "app.py", app_port, tmp / "app.log", env=env, app_args=extra)
        app_url, bare_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
            for proc, port, log in ((bare, bare_port, tmp / "bare.log"), (app, app_port, tmp / "app.log")):
                try:
                    wait_healthy(proc, port, log, timeout=120)
                except RuntimeError as exc:
                    raise SystemExit(f"{log.stem}: {exc}") from None
            # 1. first load: the fresh server's first session, then new tabs on the warm server (the last one stays
            # open for the walk)
            cold = first_load(browser, app_url)
            warm = [first_load(browser, app_url) for _ in range(a.warm_loads - 1)]
            last, app_pg = first_load(browser, app_url, keep=True)
            warm.append(last)
            results["first_load"] = (cold, warm)
            print(f"first load (fresh server, imports + model): {cold:6.0f} ms")
            print(f"first load (new tab, warm server):          {statistics.median(warm):6.0f} ms median of {len(warm)}")

            # 2. slider: app walk page and bare page in turns (the bare page loads while the walk opens: neither is
            # timed)
            bare_pg = start_bare(browser, bare_url)
            walk = show_walk(app_pg, a.model)
            finish_bare(bare_pg)
            focus_walk_slider(walk)
            print(f"walk slider: {walk.get_by_role('slider').first.get_attribute('aria-label') or 'first slider'}")
            app_lat, bare_lat = slider_turns([walk, bare_pg], a.n)
            results["slider"] = (app_lat, bare_lat)
            print(summary("bare page slider", bare_lat))
            print(summary("app Latent walk slider", app_lat))
            print(f"p95 ratio app / bare: {p95(app_lat) / p95(bare_lat):.2f}")

            # 3. in-app navigation to the map: first time, then repeats (walk -> map)
            walk.bring_to_front()
            nav = []
            for _ in range(1 + a.map_repeats):
                nav.append(walk.evaluate(NAV_TO_MAP, "Latent map"))
                wait_idle(walk)
                walk.locator("[data-testid='stSidebarNav'] a").filter(has_text="Latent walk").click()
                walk.locator("h1").filter(has_text="Latent walk").wait_for()
                wait_idle(walk)
            results["map"] = nav
            print(f"map via navigation: first {nav[0]:6.0f} ms; after: median {statistics.median(nav[1:]):6.0f} ms, "
                  f"max {max(nav[1:]):6.0f} ms")

            # 4. slider while UMAP computes in the background (nothing cached: fresh cache directory)
            walk.evaluate(NAV_TO_MAP, "Latent map")
            wait_idle(walk)
            choose(walk, "Data set for the map and examples", a.umap_dataset)
            walk.get_by_text("UMAP", exact=True).click()
            walk.get_by_text("in the background").first.wait_for(timeout=60_000)
            walk.locator("[data-testid='stSidebarNav'] a").filter(has_text="Latent walk").click()
            walk.locator("h1").filter(has_text="Latent walk").wait_for()
            wait_idle(walk)
            focus_walk_slider(walk)
            busy, bare_busy = slider_turns([walk, bare_pg], a.n)
            walk.bring_to_front()
            walk.evaluate(NAV_TO_MAP, "Latent map")
            wait_idle(walk)
            still = walk.get_by_text("in the background").count() > 0
            results["umap"] = busy
            print(summary("app slider during UMAP", busy))
            print(summary("bare page during UMAP", bare_busy))
            print(f"UMAP still computing at the end of the moves: {still}")
            browser.close()
    finally:
        stop(app, bare)
    app_lat, bare_lat = results["slider"]
    cold, warm = results["first_load"]
    nav = results["map"]
    busy = results["umap"]
    checks = [
        ("app slider p95 <= bare p95", p95(app_lat) <= p95(bare_lat), f"{p95(app_lat):.0f} vs {p95(bare_lat):.0f} ms"),
        ("map first navigation <= 1.5 s", nav[0] <= 1500, f"{nav[0]:.0f} ms"),
        ("map later navigations <= 1 s", max(nav[1:]) <= 1000, f"max {max(nav[1:]):.0f} ms"),
        ("first load <= 5 s (fresh server)", cold <= 5000, f"{cold:.0f} ms"),
        ("first load <= 5 s (warm server)", max(warm) <= 5000, f"max {max(warm):.0f} ms"),
        ("slider during UMAP p95 <= 1.5 x idle p95", p95(busy) <= 1.5 * p95(app_lat),
         f"{p95(busy):.0f} vs {1.5 * p95(app_lat):.0f} ms"),
    ]
    print("\ntargets:")
    for name, ok, detail in checks:
        print(f"  [{'PASS' if ok else 'MISS'}] {name}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
