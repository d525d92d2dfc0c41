"""Latent walk page: sliders change the image, moving back restores it exactly; axes, starts, grid, strip."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.support.bad_files import digit_like, encode
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page


def _walk_image(at, media) -> bytes:
    return media.get(image_by_caption(at, "decoded mean"))


def _first_axis_slider(at):
    return next(s for s in at.slider if s.key and s.key.startswith("walk:"))


def test_slider_changes_image_and_moving_back_restores_it_exactly(conv_model, media):
    at = open_app(conv_model, "walk")
    assert not errors(at)
    before = _walk_image(at, media)
    slider = _first_axis_slider(at)
    assert slider.value == 0.0 and slider.min == -4.0 and slider.max == 4.0
    slider.set_value(2.5).run()
    moved = _walk_image(at, media)
    assert moved != before
    assert not np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(moved))),
                              np.asarray(Image.open(__import__("io").BytesIO(before))))
    _first_axis_slider(at).set_value(0.0).run()
    assert _walk_image(at, media) == before  # same slider values, same image, byte for byte
    _first_axis_slider(at).set_value(2.5).run()
    assert _walk_image(at, media) == moved


def test_principal_directions_and_collapsed_dimensions(conv_model, media):
    at = open_app(conv_model, "walk")
    dims = [s.label for s in at.slider if s.key.startswith("walk:")]
    assert all("KL" in label for label in dims)
    at.checkbox(key="walk_collapsed").check().run()
    assert not at.exception
    at.radio(key="walk_axes").set_value("principal directions").run()
    labels = [s.label for s in at.slider if s.key.startswith("walk:")]
    assert labels and all(label.startswith("PC") for label in labels)
    before = _walk_image(at, media)
    _first_axis_slider(at).set_value(-1.5).run()
    assert _walk_image(at, media) != before


def test_random_start_is_reproducible_by_seed_and_example_start(conv_model, media):
    at = open_app(conv_model, "walk")
    at.radio(key="walk_start").set_value("random prior draw").run()
    at.number_input(key="walk_seed").set_value(123).run()
    first = _walk_image(at, media)
    at.number_input(key="walk_seed").set_value(124).run()
    assert _walk_image(at, media) != first
    at.number_input(key="walk_seed").set_value(123).run()
    assert _walk_image(at, media) == first
    at.slider(key="walk_temp").set_value(0.0).run()
    zero_temp = _walk_image(at, media)
    at.radio(key="walk_start").set_value("prior mean").run()
    assert _walk_image(at, media) == zero_temp  # temperature 0 draws the prior mean
    at.radio(key="walk_start").set_value("data set example").run()
    at.number_input(key="walk_example").set_value(3).run()
    assert not errors(at) and any("test item 3" in c.value for c in at.caption)


def test_uploaded_image_as_start(conv_model, media):
    at = open_app(conv_model)
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    switch_page(at, "walk").run()
    at.radio(key="walk_start").set_value("uploaded image").run()
    assert not errors(at) and any("upload ring.png" in c.value for c in at.caption)


def test_traversal_grid_interpolation_and_downloads(conv_model, media):
    at = open_app(conv_model, "walk")
    at.toggle(key="walk_grid").set_value(True).run()
    grid = media.array(image_by_caption(at, "Traversal"))
    assert grid.shape[1] > grid.shape[0] / 8  # 7 columns of images
    strip = image_by_caption(at, "test item 0")
    assert media.array(strip).shape[1] > media.array(strip).shape[0]
    at.radio(key="interp_path").set_value("spherical").run()
    assert media.get(image_by_caption(at, "test item 0")) != media.get(strip)
    labels = [b.label for b in at.get("download_button")]
    assert "Image (PNG)" in labels and "Strip (GIF)" in labels and any("GIF" in lab and "Walk" in lab for lab in labels)


def test_two_dimensional_model(app_env, media):
    at = open_app(app_env["tiny-mlp-2d"], "walk")
    assert len([s for s in at.slider if s.key.startswith("walk:")]) <= 2
    before = _walk_image(at, media)
    at.checkbox(key="walk_collapsed").check().run()
    _first_axis_slider(at).set_value(1.0).run()
    assert _walk_image(at, media) != before


def test_tensor_shaped_codes(app_env, media, monkeypatch):
    from ui.pages.walk import registry

    monkeypatch.delitem(registry.PANELS, "spatial")  # the vector fallback's sliders over z[c,h,w] (the studio: test_app_walk_spatial.py)
    at = open_app(app_env["tiny-captioner"], "walk")
    labels = [s.label for s in at.slider if s.key.startswith("walk:")]
    assert labels and all(label.startswith("z[") for label in labels)  # z[c,h,w]
    before = _walk_image(at, media)
    at.checkbox(key="walk_collapsed").check().run()
    _first_axis_slider(at).set_value(3.0).run()
    assert _walk_image(at, media) != before
    at.radio(key="walk_axes").set_value("principal directions").run()
    assert not at.exception and not errors(at)
