"""Screenshots of every page for the README, taken in headless Chromium against `streamlit run app.py`.

    python -m tests.browser.make_screenshots                      # shipped models in pretrained/
    python -m tests.browser.make_screenshots --models /tmp/extra  # e.g. where a captioning model lives

(from the repository root, which `python -m` puts on sys.path: tests/ and bench/ import as namespace packages)

Writes docs/screenshots/{reconstruct,draw,walk,map,map-plane,losslab,captions}.png (captions only when some
checkpoint has a caption decoder).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from bench.app_latency import ARGS, free_port, serve, stop
from tests.browser.driver import choose, go, image_src, open_app, seven, stroke, upload, wait_idle

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="extra folder of checkpoints")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from tests.app.bad_files import encode

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="screens-"))
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"))
    port = free_port()
    proc = serve(ROOT / "app.py", port, ["--models", a.models] if a.models else [], env, tmp / "app.log", ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
            pg = b.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            pg.set_default_timeout(120_000)
            open_app(pg, url)
            choose(pg, "Checkpoint", "conv-mnist5k")
            # a dark-on-light drawing, as a phone photo of paper would be
            from explorer.data.embedded import load_mnist5k

            digit = (load_mnist5k().test[3][0][0].numpy() * 255).astype("uint8")
            big = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BICUBIC)
            upload(pg, [("drawing.png", encode(big), "image/png")])
            image_src(pg, "reconstruction")
            pg.screenshot(path=str(out / "reconstruct.png"), full_page=True)

            # draw to encode: a '7' drawn on the canvas, reconstructed in the page and scored on release
            pg.get_by_test_id("stRadio").get_by_text("Draw", exact=True).click()
            pg.wait_for_function("() => Object.values(window.__liveLatent?.status ?? {}).some(s => s.sessionReady)")
            wait_idle(pg)
            stroke(pg, seven())
            pg.get_by_text("Your drawing").first.wait_for()
            wait_idle(pg, 1500)
            pg.screenshot(path=str(out / "draw.png"), full_page=True)
            pg.get_by_test_id("stRadio").get_by_text("Upload images", exact=True).click()
            wait_idle(pg)

            go(pg, "Latent walk")
            pg.get_by_text("Traversal grid").click()
            wait_idle(pg)
            slider = pg.get_by_role("slider").first
            slider.focus()
            for _ in range(12):
                pg.keyboard.press("ArrowRight")
            wait_idle(pg, 1500)
            pg.screenshot(path=str(out / "walk.png"), full_page=True)

            go(pg, "Latent map")
            pg.get_by_text("UMAP", exact=True).click()
            wait_idle(pg, 1500)
            plot = pg.locator(".js-plotly-plot .nsewdrag").first
            box = plot.bounding_box()
            pg.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.15)
            pg.mouse.down()
            pg.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.45, steps=10)
            pg.mouse.up()
            pg.get_by_role("heading", name=re.compile(r"^\d+ selected$")).wait_for()
            wait_idle(pg, 1000)
            pg.screenshot(path=str(out / "map.png"), full_page=True)

            choose(pg, "Checkpoint", "mlp-mnist5k-2d")
            pg.get_by_text("latent plane", exact=True).click()
            wait_idle(pg, 1500)
            pg.screenshot(path=str(out / "map-plane.png"), full_page=True)

            choose(pg, "Checkpoint", "conv-mnist5k")
            go(pg, "Loss lab")
            pg.get_by_text(re.compile(r"ranks the one-pixel shift")).wait_for()
            pg.screenshot(path=str(out / "losslab.png"), full_page=True)

            box = pg.get_by_role("combobox", name="Checkpoint")
            box.click()
            texts = pg.get_by_role("option").all_inner_texts()
            pg.keyboard.press("Escape")
            captioners = [t for t in texts if re.match(r"^(pu|tiny-pu)", t)]
            if captioners:
                choose(pg, "Checkpoint", captioners[0])
                go(pg, "Captions")
                pg.get_by_text("data set example", exact=True).first.click()  # a real image, not the prior mean
                wait_idle(pg, 500)
                pg.get_by_text(re.compile(r"^Greedy:")).wait_for()
                wait_idle(pg, 1000)
                pg.screenshot(path=str(out / "captions.png"), full_page=True)
            b.close()
    finally:
        stop(proc)
    for f in sorted(out.glob("*.png")):
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
