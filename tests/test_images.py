"""explorer.images: every bad file gets a clear ImageInputError; usable files convert to the model's shape."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.images import (
    ImageInputError, ImageLimits, conform_batch, convert_image, estimate_background, load_image, make_grid,
    prepare_digit, prepare_drawing, to_gif, to_png, to_uint8,
)
from tests.support.bad_files import CASES, digit_like, encode


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_bad_input_gets_a_message_or_a_correct_conversion(name):
    filename, make, _mime, usable, words = CASES[name]
    data = make()
    if usable:
        out = load_image(data, (1, 28, 28), background=0.0, invert=None)
        assert out.tensor.shape == (1, 28, 28)
        assert out.tensor.dtype == torch.float32
        assert 0.0 <= float(out.tensor.min()) and float(out.tensor.max()) <= 1.0
        assert words.lower() in "; ".join(out.notes).lower()
    else:
        with pytest.raises(ImageInputError) as info:
            load_image(data, (1, 28, 28))
        assert words.lower() in str(info.value).lower()


def test_limits_are_configurable():
    data = encode(Image.fromarray(digit_like(64)))
    with pytest.raises(ImageInputError, match="upload limit"):
        load_image(data, (1, 28, 28), limits=ImageLimits(max_bytes=100))
    with pytest.raises(ImageInputError, match="over the limit"):
        load_image(data, (1, 28, 28), limits=ImageLimits(max_pixels=64 * 63))
    assert load_image(data, (1, 28, 28), limits=ImageLimits(max_pixels=64 * 64)).tensor.shape == (1, 28, 28)


def test_aspect_ratio_kept_and_padded_with_background():
    wide = np.full((10, 40), 255, dtype=np.uint8)  # a white 4:1 bar
    out = load_image(encode(Image.fromarray(wide)), (1, 28, 28), background=0.0).tensor[0]
    assert out.shape == (28, 28)
    rows = torch.nonzero(out.max(1).values > 0.5).flatten()
    assert 6 <= len(rows) <= 8  # 28 * 10/40 = 7 rows of bar, the rest background
    assert float(out[0].max()) == 0.0 and float(out[-1].max()) == 0.0


def test_rgba_composited_onto_background_and_inverted_for_dark_on_light_models():
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[10:18, 10:18] = (0, 0, 0, 255)  # a black opaque square on a transparent sheet
    data = encode(Image.fromarray(rgba, "RGBA"))
    auto = load_image(data, (1, 28, 28), background=0.0, invert=None)
    assert auto.inverted
    assert float(auto.tensor[0, 14, 14]) == pytest.approx(1.0)  # ink became white
    assert float(auto.tensor[0, 2, 2]) == pytest.approx(0.0)  # transparency became the background
    kept = load_image(data, (1, 28, 28), background=0.0, invert=False)
    assert float(kept.tensor.max()) == pytest.approx(0.0)  # black ink on black, as asked


def test_dark_on_light_drawing_auto_inverted_but_photos_never():
    drawing = encode(Image.fromarray(digit_like(28, dark_on_light=True)))
    out = load_image(drawing, (1, 28, 28), background=0.0, invert=None)
    assert out.inverted and float(out.tensor[0, 0, 0]) == pytest.approx(0.0)
    photo_model = load_image(drawing, (3, 32, 32), background=(0.5, 0.45, 0.4), invert=None)
    assert not photo_model.inverted


def test_grey_to_rgb_and_rgb_to_grey():
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    grey = load_image(encode(Image.fromarray(rgb)), (1, 16, 16)).tensor
    assert float(grey[0, 5, 5]) == pytest.approx(0.299, abs=0.01)  # luminance of pure red
    col = load_image(encode(Image.fromarray(digit_like(16))), (3, 16, 16)).tensor
    assert torch.equal(col[0], col[1]) and torch.equal(col[1], col[2])


def test_sixteen_bit_keeps_full_range():
    arr = np.linspace(0, 65535, 32 * 32).astype(np.uint16).reshape(32, 32)
    out = load_image(encode(Image.fromarray(arr)), (1, 32, 32)).tensor
    assert float(out.max()) == pytest.approx(1.0, abs=1e-3) and float(out.min()) == pytest.approx(0.0, abs=1e-3)


def test_conform_batch_matches_single_conversion_shape_and_background():
    x = torch.rand(5, 1, 8, 8)
    y = conform_batch(x, (3, 28, 28), background=0.25)
    assert y.shape == (5, 3, 28, 28)
    assert conform_batch(x, (1, 8, 8)) is not None and torch.equal(conform_batch(x, (1, 8, 8)), x)
    z = conform_batch(torch.rand(2, 3, 10, 20), (1, 28, 28), background=0.25)
    assert z.shape == (2, 1, 28, 28) and float(z[0, 0, 0, 0]) == pytest.approx(0.25)


def test_estimate_background_is_border_median():
    x = torch.zeros(4, 1, 10, 10)
    x[:, :, 3:7, 3:7] = 1.0
    assert estimate_background(x).tolist() == [0.0]


def test_png_gif_and_grid_round_trip():
    img = torch.rand(1, 7, 5)
    png = Image.open(io.BytesIO(to_png(img, scale=3)))
    assert png.size == (15, 21)
    assert np.array_equal(np.asarray(png)[::3, ::3], to_uint8(img))
    gif = Image.open(io.BytesIO(to_gif(torch.rand(4, 1, 6, 6))))
    assert gif.is_animated and gif.n_frames == 6  # boomerang: 4 forward, 2 back
    grid = make_grid(torch.ones(5, 1, 4, 4), nrow=3, pad=1, pad_value=0.0)
    assert grid.shape == (1, 2 * 5 + 1, 3 * 5 + 1)
    assert float(grid.sum()) == 5 * 16


def test_convert_image_accepts_pillow_image_directly():
    t, inverted, notes = convert_image(Image.fromarray(digit_like(56)), (1, 28, 28))
    assert t.shape == (1, 28, 28) and not inverted and any("resized" in n for n in notes)


def test_prepare_drawing_is_prepare_digit_of_the_raster():
    raster = np.zeros((196, 196), np.uint8)
    raster[40:150, 90:106] = 255  # a "1", white on black as the canvas sends it
    raster[40:56, 60:106] = 180
    got = prepare_drawing(raster, 28, 28)
    assert got.shape == (28, 28) and got.dtype == np.float32
    assert np.array_equal(got, prepare_digit(raster.astype(np.float32) / 255, 28, 28))
    rows = np.flatnonzero(got.max(1) > 0.2)
    assert rows[-1] - rows[0] + 1 in (20, 21)  # the longest side scaled to 20 px (a partly covered pixel either side)


def test_blank_drawing_has_a_clear_message():
    with pytest.raises(ImageInputError) as blank:
        prepare_drawing(np.zeros((196, 196), np.uint8))
    assert blank.value.check == "blank" and "draw a digit" in str(blank.value)
    with pytest.raises(ImageInputError) as flat:  # one shade everywhere: the paper level removes it all
        prepare_drawing(np.full((64, 64), 200, np.uint8))
    assert flat.value.check == "blank"
    with pytest.raises(ImageInputError) as bad:
        prepare_drawing(np.zeros((4, 4, 3), np.uint8))
    assert bad.value.check == "cannot convert"


def test_uploads_keep_their_own_size_where_the_model_takes_any_multiple():
    from io import BytesIO

    from PIL import Image

    from explorer.images import load_image, native_shape

    assert native_shape(48, 24, (3, 16, 16), 8) == (3, 24, 48)
    assert native_shape(50, 24, (3, 16, 16), 8) == (3, 16, 16)  # 50 is no multiple of 8: the model's size
    assert native_shape(48, 24, (3, 16, 16), 0) == (3, 16, 16)  # a fixed-size model
    buf = BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 48, 3), dtype=np.uint8)).save(buf, "PNG")
    converted = load_image(buf.getvalue(), (3, 16, 16), size_multiple=8)
    assert converted.tensor.shape == (3, 24, 48) and any("own size 48 x 24" in n for n in converted.notes)
    assert load_image(buf.getvalue(), (3, 16, 16)).tensor.shape == (3, 16, 16)
