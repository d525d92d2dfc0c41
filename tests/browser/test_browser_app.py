"""End to end in headless Chromium against `streamlit run app.py`: models, uploads, sliders, map, pages."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.support import checkpoints
from tests.support.bad_files import CASES, digit_like, encode
from driver import choose, choose_model, go, image_src, open_app, shot, upload, wait_idle

pytestmark = pytest.mark.browser


def _all_options(pg, label: str) -> list[str]:
    """Every option text of the selectbox labelled `label`, in order. The list is virtualised (only the options in
    view are drawn), so the arrow key walks the highlight down it until no new option appears."""
    pg.get_by_role("combobox", name=label).click()
    seen: list[str] = []
    quiet = 0
    while True:
        drawn = pg.get_by_role("option").all_inner_texts()
        new = [t for t in drawn if t not in seen]
        seen += new
        quiet = 0 if new else quiet + 1
        if quiet > len(drawn):  # the highlight went past a whole window's worth with nothing new: the end
            break
        pg.keyboard.press("ArrowDown")
    pg.keyboard.press("Escape")
    return seen


def _usable_models(pg) -> list[str]:
    """Picker texts of every usable checkpoint."""
    return [t for t in _all_options(pg, "Checkpoint") if not t.startswith("⚠")]


def test_open_app_and_choose_each_model(page, app_url, shots):
    open_app(page, app_url)
    texts = _usable_models(page)
    assert {"tiny-conv-mnist5k", "tiny-mlp-2d", "tiny-conv-patches"} <= {t.split(":")[0] for t in texts}
    # every test model, and the first shipped one: each shipped model's pages are checked without a browser
    # (tests/app/test_app_sidebar.py::test_every_shipped_model_is_silent)
    shipped = [t for t in texts if t.split(":")[0] in checkpoints.shipped()]
    for i, text in enumerate([t for t in texts if t not in shipped] + shipped[:1]):
        choose(page, "Checkpoint", text)
        assert page.get_by_role("combobox", name="Checkpoint").input_value() == text
        if text.startswith("bad-weights"):  # its config reads fine; the weights fail on loading, reported there
            page.locator("[data-testid='stAlert']").filter(has_text="could not be loaded").wait_for()
            shot(page, shots / f"model-{i}-bad-weights.png")
            continue
        page.locator("h1").filter(has_text="Reconstruct").wait_for()
        if ": " in text:  # the card's one-line summary is shown under the picker
            page.locator("[data-testid='stSidebar']").get_by_text(text.split(": ", 1)[1]).first.wait_for()
        assert page.locator("[data-testid='stException']").count() == 0, text
        assert page.locator("[data-testid='stAlert']").filter(has_text="could not be loaded").count() == 0, text
        shot(page, shots / f"model-{i}-{text.split(':')[0].split(' ')[0]}.png")
    assert any(t.startswith("⚠ broken-model") for t in _all_options(page, "Checkpoint"))


def test_upload_png_and_see_its_reconstruction(page, app_url, browser_models, shots):
    open_app(page, app_url)
    choose_model(page, "tiny-conv-mnist5k")
    upload(page, [("ring.png", encode(Image.fromarray(digit_like(40, dark_on_light=True))), "image/png")])
    page.get_by_role("heading", name="ring.png").wait_for()
    seen = image_src(page, "as the model sees it")
    recon = image_src(page, "reconstruction")
    assert seen and recon and seen != recon
    page.get_by_text(re.compile(r"ELBO above [\d.]+% of the \d+ test items")).wait_for()
    shot(page, shots / "reconstruct.png")


def test_slider_moves_the_image_and_back(page, app_url, shots):
    open_app(page, app_url)
    choose_model(page, "tiny-conv-mnist5k")
    go(page, "Latent walk")
    before = image_src(page, "decoded mean")
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "src => { const i = document.querySelector(\"[data-testid='stImage'] img\"); return i && i.src !== src; }",
        arg=before, timeout=30_000)
    wait_idle(page)
    assert image_src(page, "decoded mean") != before
    shot(page, shots / "walk-moved.png")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "src => { const i = document.querySelector(\"[data-testid='stImage'] img\"); return i && i.src === src; }",
        arg=before, timeout=30_000)  # media URLs name their content: the same image comes back


def test_box_selection_on_the_map_shows_the_gallery(page, app_url, shots):
    open_app(page, app_url)
    choose_model(page, "tiny-conv-mnist5k")
    go(page, "Latent map")
    plot = page.locator(".js-plotly-plot .nsewdrag").first
    plot.wait_for()
    page.wait_for_timeout(800)
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6, steps=12)
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8, steps=12)
    page.mouse.up()
    heading = page.get_by_role("heading", name=re.compile(r"^\d+ selected$"))
    heading.wait_for(timeout=60_000)
    count = int(heading.inner_text().split()[0])
    assert count > 1
    gallery = page.locator("[data-testid='stImageCaption']").filter(has_text=re.compile(r"^\d+: "))
    gallery.first.wait_for()
    wait_idle(page)
    assert gallery.count() == min(count, 60)
    shot(page, shots / "map-box-selection.png")


def test_loss_lab_and_captions_pages(page, app_url, browser_models, shots):
    open_app(page, app_url)
    choose_model(page, "tiny-conv-mnist5k")
    go(page, "Loss lab")
    page.get_by_text("Ranking (1 = most similar to the original)").wait_for()
    page.get_by_text(re.compile(r"ranks the one-pixel shift \d of 4")).wait_for()
    shot(page, shots / "loss-lab.png")
    assert page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Captions").count() == 0
    captioner = "tiny-pu" if "tiny-pu" in browser_models else "tiny-captioner"
    choose_model(page, captioner)
    go(page, "Captions")
    page.get_by_text(re.compile(r"^Greedy:")).wait_for()
    page.get_by_text(re.compile(r"^Beam search")).wait_for()
    shot(page, shots / "captions.png")


def test_bad_uploads_get_messages_and_other_users_keep_working(browser, app_url, shots):
    ctx_a = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx_b = browser.new_context(viewport={"width": 1400, "height": 1000})
    a, b = ctx_a.new_page(), ctx_b.new_page()
    try:
        for pg in (a, b):
            pg.set_default_timeout(90_000)
            open_app(pg, app_url)
            choose_model(pg, "tiny-conv-mnist5k")
        go(b, "Latent walk")
        for name in ("not_an_image", "empty", "truncated", "bomb", "huge_under_limit", "one_by_one", "cmyk", "rgba"):
            filename, make, mime, usable, words = CASES[name]
            upload(a, [(filename, make(), mime)])
            if usable:
                a.get_by_role("heading", name=filename).wait_for()
                image_src(a, "reconstruction")
            else:
                alert = a.locator("[data-testid='stAlert']").filter(has_text=filename)
                alert.wait_for()
                assert words.lower() in alert.inner_text().lower(), (name, alert.inner_text())
            shot(a, shots / f"upload-{name}.png")
            # the other user's slider still moves their image
            before = image_src(b, "decoded mean")
            b.get_by_role("slider").first.focus()
            b.keyboard.press("ArrowRight")
            b.wait_for_function(
                "src => { const i = document.querySelector(\"[data-testid='stImage'] img\"); return i && i.src !== src; }",
                arg=before, timeout=30_000)
        upload(a, [("good.png", encode(Image.fromarray(digit_like(28))), "image/png")])
        a.get_by_role("heading", name="good.png").wait_for()
        image_src(a, "reconstruction")
    finally:
        ctx_a.close()
        ctx_b.close()
