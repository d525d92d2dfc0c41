"""Screenshots of today's app for README.md and docs/, taken in headless Chromium against `streamlit run app.py`.
It makes documentation and tests nothing.

    .venv/bin/python -m scripts.make_screenshots                      # the shipped models in pretrained/
    .venv/bin/python -m scripts.make_screenshots --only walk,compare  # some pages only

(from the repository root, which `python -m` puts on sys.path: scripts/, bench/ and tests/ import as namespace
packages)

Chromium comes from $CHROMIUM, else `bash scripts/ensure-chromium.sh` (which installs Debian's when missing).
Writes docs/screenshots/{reconstruct,draw,walk,map,map-plane,losslab,compare,factors,captions}.png, each a 256-colour PNG
of the visible window (1280 x 1100), a few hundred kB at most.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS, start_streamlit, stop
from tests.browser.driver import (add_model_to_compare, choose, go, image_src, open_app, seven, stroke, upload,
                                  wait_idle)

ROOT = Path(__file__).resolve().parents[1]

SHOTS = ("reconstruct", "draw", "walk", "map", "map-plane", "losslab", "compare", "factors", "captions")
VIEWPORT = {"width": 1280, "height": 1100}


def chromium_path(given: str | None) -> str:
    """The Chromium to drive: --chromium, else $CHROMIUM, else what scripts/ensure-chromium.sh prints."""
    if given:
        return given
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return subprocess.run(["bash", str(ROOT / "scripts" / "ensure-chromium.sh")], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def save(pg, path: Path) -> None:
    """The visible window as a 256-colour PNG (the app's flat colours survive; the file stays small)."""
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    pg.screenshot(path=str(raw))
    Image.open(raw).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    raw.unlink()
    print(f"{path} {path.stat().st_size // 1024} kB", flush=True)


def scroll_to(locator, block: str = "start") -> None:
    """Scroll the page so that `locator` sits at the window's top ("start") or middle ("center")."""
    locator.evaluate(f"e => e.scrollIntoView({{block: '{block}'}})")
    locator.page.wait_for_timeout(300)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="an extra folder of checkpoints")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--chromium", help="the Chromium binary (default: $CHROMIUM or scripts/ensure-chromium.sh)")
    ap.add_argument("--only", help=f"comma-separated names out of {','.join(SHOTS)} (default: all)")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else set(SHOTS)
    if only - set(SHOTS):
        ap.error(f"--only: unknown {sorted(only - set(SHOTS))}; accepted: {', '.join(SHOTS)}")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from explorer.data.embedded import load_mnist5k
    from tests.support.bad_files import encode

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="screens-"))
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"))
    port = free_port()
    proc = start_streamlit(ROOT / "app.py", port, tmp / "app.log", env=env,
                           app_args=["--models", a.models] if a.models else [])
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium_path(a.chromium), headless=True, args=CHROMIUM_ARGS)
            pg = b.new_context(viewport=VIEWPORT).new_page()
            pg.set_default_timeout(180_000)
            open_app(pg, url)  # Reconstruct is the default page, at /
            choose(pg, "Checkpoint", "conv-mnist5k")
            if only & {"reconstruct", "draw"}:
                # a dark-on-light digit, as a phone photo of paper would be
                digit = (load_mnist5k().test[3][0][0].numpy() * 255).astype("uint8")
                big = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BICUBIC)
                upload(pg, [("drawing.png", encode(big), "image/png")])
                image_src(pg, "reconstruction")
                wait_idle(pg, 1000)
                if "reconstruct" in only:
                    save(pg, out / "reconstruct.png")
            if "draw" in only:
                # draw to encode: a '7' drawn on the canvas, reconstructed in the page and scored on release
                pg.get_by_test_id("stRadio").get_by_text("Draw", exact=True).click()
                pg.wait_for_function(
                    "() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.sessionReady)")
                wait_idle(pg)
                pg.locator("[data-testid='live-latent-draw']").first.scroll_into_view_if_needed()
                stroke(pg, seven())
                pg.get_by_text("Your drawing").first.wait_for()
                wait_idle(pg, 1500)
                save(pg, out / "draw.png")
                pg.get_by_test_id("stRadio").get_by_text("Upload images", exact=True).click()
                wait_idle(pg)

            if "walk" in only:
                go(pg, "Latent walk")
                pg.wait_for_function("() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.firstFrame)")
                wait_idle(pg, 1500)
                save(pg, out / "walk.png")

            if "map" in only:
                go(pg, "Latent map")
                pg.get_by_text("UMAP", exact=True).click()
                wait_idle(pg, 1500)
                plot = pg.locator(".js-plotly-plot .nsewdrag").first
                plot.scroll_into_view_if_needed()
                box = plot.bounding_box()
                pg.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.15)
                pg.mouse.down()
                pg.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.45, steps=10)
                pg.mouse.up()
                pg.get_by_role("heading", name=re.compile(r"^\d+ selected$")).wait_for()
                wait_idle(pg, 1000)
                scroll_to(pg.locator(".js-plotly-plot").first)
                save(pg, out / "map.png")

            if "map-plane" in only:
                go(pg, "Latent map")
                choose(pg, "Checkpoint", "mlp-mnist5k-2d")
                pg.get_by_text("latent plane", exact=True).click()
                wait_idle(pg, 1500)
                save(pg, out / "map-plane.png")
                choose(pg, "Checkpoint", "conv-mnist5k")

            if "losslab" in only:
                go(pg, "Loss lab")
                pg.get_by_text(re.compile(r"ranks the one-pixel shift")).wait_for()
                wait_idle(pg, 1000)
                save(pg, out / "losslab.png")

            if "compare" in only:
                go(pg, "Compare")
                for name in ("conv-iaf-mnist5k", "mlp-mnist5k-2d"):
                    add_model_to_compare(pg, name)
                image_src(pg, "reconstruction by mlp-mnist5k-2d", timeout_ms=240_000)
                wait_idle(pg, 1500)
                scroll_to(pg.get_by_role("heading", name=re.compile("^The same image")).first)
                save(pg, out / "compare.png")

            if "factors" in only:
                choose(pg, "Checkpoint", "tcvae-dsprites")
                go(pg, "Factors")
                pg.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=240_000)  # the MI heat map
                wait_idle(pg, 1500)
                scroll_to(pg.locator(".js-plotly-plot").first, "center")
                save(pg, out / "factors.png")

            if "captions" in only:
                choose(pg, "Checkpoint", "pu-shapes")
                go(pg, "Captions")
                pg.get_by_text("data set example", exact=True).first.click()  # a real image, not the prior mean
                wait_idle(pg, 500)
                greedy = pg.get_by_text(re.compile(r"^Greedy:")).first
                greedy.wait_for()
                wait_idle(pg, 1000)
                scroll_to(greedy, "center")
                save(pg, out / "captions.png")
            b.close()
    finally:
        stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
