"""Reconstruct page: uploads (good and bad), the data set path, scores and percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.bad_files import CASES, digit_like, encode
from tests.support.apptest_helpers import data_never_encoded, errors, image_by_caption, open_app
from explorer.images import display_scale


def _down(arr: np.ndarray, shape) -> np.ndarray:
    s = display_scale(shape[1], shape[2], 140)
    assert arr.shape[:2] == (shape[1] * s, shape[2] * s)
    return arr[::s, ::s].astype(np.float64) / 255.0


def _upload(at, files):
    at.radio(key="rec_source").set_value("Upload images")
    at.run()
    at.file_uploader(key="rec_files").set_value(files)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_upload_png_shows_reconstruction_of_model_shape_that_differs_from_input(conv_model, media):
    at = open_app(conv_model)
    png = encode(Image.fromarray(digit_like(40, dark_on_light=True)))
    _upload(at, ("ring.png", png, "image/png"))
    assert not errors(at)
    seen = _down(media.array(image_by_caption(at, "as the model sees it")), (1, 28, 28))
    recon = _down(media.array(image_by_caption(at, "reconstruction")), (1, 28, 28))
    assert seen.shape == recon.shape == (28, 28)
    assert np.abs(seen - recon).mean() > 0.01  # the model does not copy its input
    assert seen[0, 0] == 0.0 and seen[14, 14 - 8] > 0.5  # inverted automatically: white ring on black
    metrics = {m.label: m.value for m in at.metric}
    assert {"reconstruction NLL", "KL(q || prior)", "ELBO"} <= set(metrics)
    assert any(k.startswith("IWAE") for k in metrics)
    assert any("test items" in m.value and "%" in m.value for m in at.markdown)
    assert sum(1 for c in image_by_captions(at) if c.startswith("sample")) == 4


def image_by_captions(at):
    return [c for e in at.get("image") for c in e.captions]


def test_several_files_and_rgb_model_conversion(app_env, media):
    at = open_app(app_env["tiny-conv-patches"])
    _upload(at, [("a.png", encode(Image.fromarray(digit_like(28))), "image/png"),
                 ("b.jpg", encode(Image.fromarray(np.full((50, 20, 3), 200, np.uint8)), "JPEG"), "image/jpeg")])
    assert not errors(at)
    assert [s.value for s in at.subheader][:2] == ["a.png", "b.jpg"]
    seen = media.array(image_by_caption(at, "as the model sees it"))
    assert seen.ndim == 3 and seen.shape[2] == 3  # grey upload shown as the RGB model sees it
    assert any(m.label == "ELBO bits/dim" for m in at.metric)


def test_pick_from_the_data_set_needs_no_upload(conv_model, media):
    at = open_app(conv_model)
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    at.number_input(key="rec_example").set_value(7).run()
    assert not errors(at) and not at.exception
    assert any("Test item 7" in s.value for s in at.subheader)
    recon = media.array(image_by_caption(at, "reconstruction"))
    assert recon.shape[0] == recon.shape[1]


def test_a_picked_item_is_scored_without_encoding_the_data_set(conv_model, monkeypatch):
    """The picker and the item's scores need no data set encoding (Ctx.data_items): an SD-sized encoder takes
    seconds an item. With data() failing, a picked item is still shown and scored."""
    data_never_encoded(monkeypatch)
    at = open_app(conv_model)
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    at.number_input(key="rec_example").set_value(3).run()
    assert not errors(at) and not at.exception, [e.value for e in at.exception]
    assert any("Test item 3" in s.value for s in at.subheader)
    image_by_caption(at, "reconstruction")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_bad_input_gets_its_message_and_the_app_keeps_serving(app_env, media):
    at = open_app(app_env["tiny-conv-mnist5k"])
    other = open_app(app_env["tiny-conv-mnist5k"])  # a second user, sharing the cached model
    for name, (filename, make, mime, usable, words) in CASES.items():
        _upload(at, (filename, make(), mime))
        text = " ".join(errors(at) + [c.value for c in at.caption]).lower()
        assert words.lower() in text, (name, text)
        if usable:
            assert not errors(at), (name, errors(at))
            image_by_caption(at, "reconstruction")
        else:
            assert errors(at) and errors(at)[0].startswith(filename), (name, errors(at))
        # the next request of this user and of another user are served normally
        _upload(at, ("good.png", encode(Image.fromarray(digit_like(28))), "image/png"))
        assert not errors(at)
        image_by_caption(at, "reconstruction")
        other.run()
        assert not other.exception and not errors(other)


def test_bad_and_good_files_together(app_env):
    at = open_app(app_env["tiny-conv-mnist5k"])
    _upload(at, [("empty.png", b"", "image/png"), ("ok.png", encode(Image.fromarray(digit_like(28))), "image/png")])
    assert len(errors(at)) == 1 and "empty" in errors(at)[0]
    image_by_caption(at, "reconstruction")


def test_upload_limits_come_from_the_command_line(app_env, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "argv", ["app.py", "--max-pixels", "500"])
    at = open_app(app_env["tiny-conv-mnist5k"])
    _upload(at, ("ring.png", encode(Image.fromarray(digit_like(28))), "image/png"))
    assert errors(at) and "over the limit of 500 pixels" in errors(at)[0]


def test_error_map_is_the_models_own_nll_with_squared_error_as_second_view(app_env, media):
    import re

    at = open_app(app_env["tiny-conv-mnist5k"])
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    cap = next(c for c in image_by_captions(at) if c.startswith("−log p(x | z) per pixel at z = posterior mean"))
    total = float(re.search(r"sums to (-?[\d.]+) nats", cap).group(1))
    assert total > 0
    assert any("fixed binarisation" in c.value for c in at.caption)
    assert any(c.value.startswith("Likelihood: Bernoulli") for c in at.caption)
    at.button_group(key="rec_err:ex0").set_value("squared error").run()
    assert not at.exception
    assert any(c.startswith("per-pixel squared error") for c in image_by_captions(at))


@pytest.mark.slow  # exports the encoder and decoder (about 10 s on a small CPU)
def test_draw_input_exports_the_encoder_and_waits_for_a_drawing(conv_model, cache_dir):
    """AppTest cannot draw (the canvas is the live component's), so it checks what the page does before a
    release: "Draw" is offered for a grey digit model, the encoder and decoder are exported for the page, and the
    page asks for a drawing without error."""
    at = open_app(conv_model)
    at.radio(key="rec_source").set_value("Draw").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception]
    assert sorted((cache_dir / "models").glob("*/encoder.onnx")) and sorted((cache_dir / "models").glob("*/decoder.onnx"))
    assert any(c.value.startswith("Draw a digit with the mouse") for c in at.caption)
    assert not at.metric  # nothing is scored before a drawing is released


def test_draw_is_offered_only_for_grey_digit_models(app_env):
    at = open_app(app_env["tiny-conv-patches"])
    assert "Draw" not in at.radio(key="rec_source").options


def test_draw_says_why_when_the_encoder_does_not_export(conv_model, monkeypatch):
    import explorer.onnx.export as onnx_export

    def refuse(model, digest, cache_dir, **kwargs):
        return onnx_export.ExportFailure("encoder", "conv", {"torchscript": "no encoder graph", "dynamo": "nor here"})

    monkeypatch.setattr(onnx_export, "exported_encoder", refuse)
    at = open_app(conv_model)
    at.radio(key="rec_source").set_value("Draw").run()
    assert not at.exception
    said = [w.value for w in at.warning if w.value.startswith("Drawing needs this model's encoder and decoder")]
    assert said and "no encoder graph" in said[0], [w.value for w in at.warning]
    at.radio(key="rec_source").set_value("Pick from the data set").run()  # the page keeps working
    assert not at.exception and at.metric
