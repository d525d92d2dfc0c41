"""The real Latent map page with a stored encoding of N points, in headless Chromium (not the component's demo).

    python -m bench.bench_map_page [--items 1000000] [--json out.json]

The app is served as `vae-explorer` serves it (ui/entry/serve.py: st.App with the item route) on the shipped
conv-mnist5k, with a stored encoding of N items built fast by tests/support/stored_encodings.py (N codes made from
the 500 test items' real codes plus noise). Figures, on the page's clock:
  cold_ms   "Points" set to the encoding (the first time: the codes load, PCA runs, the points cross the
            websocket) -> the big map's first raster painted
  warm_ms   the same after in-app navigation to the Latent walk and back (the page re-selects the encoding):
            -> painted; three times
  zoom_ms   p50 / p95 frame time of 30 wheel steps around the overview
  hover_ms  p50 / p95 pointer move -> decoded image painted; original_ms: -> the item's image shown (its GET)
Target: first paint after in-app navigation <= 2 s (warm), frames as bench_big_map's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.browser import driver
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS as ARGS
from tests.support.serve import spawn_streamlit, stop
from ui.components.devserver import ROOT, cached_assets, wait_healthy

PAINTED = "n => Object.values(window.__bigMap?.instances ?? {}).some(i => i.ds?.n === n && i.root.isConnected && i.firstFrame)"


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def build_encoding(cache: Path, n: int) -> str:
    """The real encoding of mnist5k's 500 test items, then n items spread from it (tests/support/stored_encodings.py)."""
    from explorer.analysis.encode_dataset import encode_splits
    from explorer.cache import weights_digest
    from explorer.checkpoint import from_pretrained
    from explorer.data import embedded
    from tests.support.stored_encodings import spread_encoding  # torch: imported while the server starts

    folder = ROOT / "pretrained" / "conv-mnist5k"
    real = encode_splits(from_pretrained(folder), embedded.load_mnist5k(), ["test"], weights_digest(folder),
                         cache_dir=cache, show_progress=False, batch_size=250)["test"].folder
    spread_encoding(folder, cache, n, real)
    return f"spread{n} test split"


def choose_points(page, label: str, n: int) -> float:
    """Pick the encoding under Points; ms from the click to its big map painted."""
    import re

    page.get_by_role("combobox", name="Points").click()
    option = page.get_by_role("option").filter(has_text=re.compile("^" + re.escape(label))).first
    t0 = page.evaluate("performance.now()")
    option.click()
    page.wait_for_function(PAINTED, arg=n, timeout=300_000, polling=10)
    ms = page.evaluate("performance.now()") - t0
    driver.wait_idle(page, pause(400))
    return ms


def measure(page, url: str, label: str, n: int, visits: int = 3, wheels: int = 30, moves: int = 20) -> dict:
    """First paint cold and after `visits` in-app navigations, `wheels` zoom steps, `moves` pointer moves."""
    def go(page, title: str) -> None:
        driver.go(page, title, pause(200))

    row: dict = {"items": n}
    page.goto(f"{url}/map")  # the page's own address (ui/main.py's url_path)
    page.locator("h1").filter(has_text="Latent map").first.wait_for()
    driver.wait_idle(page, pause(200))
    row["cold_ms"] = round(choose_points(page, label, n), 1)
    warm = []
    for _ in range(visits):
        go(page, "Latent walk")
        go(page, "Latent map")
        warm.append(round(choose_points(page, label, n), 1))
    row["warm_ms"] = warm
    box = page.get_by_test_id("big-map-overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    n0 = page.evaluate("window.__bigMap.frames.length")
    for i in range(wheels):
        page.mouse.wheel(0, -120 if i % 2 == 0 else 120)
        page.wait_for_timeout(pause(60))
    frames = page.evaluate(f"window.__bigMap.frames.slice({n0})")
    lat = [f["tDrawn"] - f["tEvent"] for f in frames]
    row["zoom_ms"] = [round(pct(lat, 50), 1), round(pct(lat, 95), 1), len(lat)]
    page.get_by_test_id("big-map-reset").click()
    rng = np.random.default_rng(0)
    h0 = page.evaluate("window.__bigMap.hovers.length")
    originals = []
    for i in range(moves):
        t0 = page.evaluate("performance.now()")
        page.mouse.move(box["x"] + box["width"] * rng.uniform(0.3, 0.7), box["y"] + box["height"] * rng.uniform(0.3, 0.7))
        idx = page.evaluate("window.__bigMap.current().hoverIndex")
        if idx is not None and idx != page.evaluate("window.__bigMap.current().serverShown"):
            page.wait_for_function(f"window.__bigMap.current().serverCaption.dataset.index === '{idx}'", timeout=20_000,
                                   polling=5)
            originals.append(page.evaluate("performance.now()") - t0)
        page.wait_for_timeout(pause(150))
    hovers = page.evaluate(f"window.__bigMap.hovers.slice({h0})")
    lat = [h["tDrawn"] - h["tEvent"] for h in hovers]
    row["hover_ms"] = [round(pct(lat, 50), 1), round(pct(lat, 95), 1), len(lat)]
    row["original_ms"] = [round(pct(originals, 50), 1), round(pct(originals, 95), 1), len(originals)]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), items=2_000)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-map-page-"))
    target = cached_assets()
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_LIVE="on",
               VAE_EXPLORER_DEFAULT_MODEL="conv-mnist5k")
    port = free_port()
    # the server starts while the encoding is built and Chromium starts (it reads the cache only when a page asks)
    proc = spawn_streamlit(ROOT / "ui" / "entry" / "serve.py", port, tmp / "streamlit.log", env=env, site=target)
    try:
        label = build_encoding(tmp / "cache", args.items)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                                        args=ARGS)
            wait_healthy(proc, port, tmp / "streamlit.log")
            page = browser.new_context(viewport={"width": 1500, "height": 1300}).new_page()
            page.set_default_timeout(300_000)
            row = measure(page, f"http://127.0.0.1:{port}", label, args.items,
                          *((0, 6, 4) if args.smoke else (3, 30, 20)))
            browser.close()
    finally:
        stop(proc)
    print(json.dumps(row))
    warm = ", ".join(f"{w / 1000:.2f} s" for w in row["warm_ms"]) or "not measured"
    print(f"{args.items:,} points on the map page: first paint cold {row['cold_ms'] / 1000:.2f} s, after in-app "
          f"navigation {warm}; zoom p50/p95 {row['zoom_ms'][0]}/"
          f"{row['zoom_ms'][1]} ms; hover -> decoded p95 {row['hover_ms'][1]} ms; -> original p50/p95 "
          f"{row['original_ms'][0]}/{row['original_ms'][1]} ms")
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
