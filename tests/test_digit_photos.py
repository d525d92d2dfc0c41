"""Digit photos: a dark digit on light paper, off-centre in a larger JPEG, is prepared as MNIST was
(explorer.images.prepare_digit via load_image(digit=True)) and reconstructs as its own digit with the shipped
conv-mnist5k, as judged by a classifier trained here on mnist5k's train images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.images import ImageInputError, load_image, prepare_digit

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "pretrained" / "conv-mnist5k"


def _photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A phone-style photo: the 28x28 digit scaled up, dark ink on paper grey with a gradient and noise,
    off-centre in a 160 x 120 picture, saved as JPEG."""
    big = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((84, 84), Image.Resampling.BILINEAR),
                     dtype=np.float32) / 255
    h, w = 120, 160
    paper = 0.78 + 0.08 * np.linspace(0, 1, w)[None, :] + rng.normal(0, 0.015, (h, w))
    y, x = int(rng.integers(4, h - 88)), int(rng.integers(4, w - 88))
    picture = paper.copy()
    picture[y:y + 84, x:x + 84] = paper[y:y + 84, x:x + 84] * (1 - 0.85 * big)  # ink darkens the paper
    rgb = np.repeat(np.clip(picture, 0, 1)[..., None], 3, -1) * np.array([1.0, 0.97, 0.9])  # warm light
    buf = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@pytest.mark.skipif(not MODEL.is_dir(), reason="the shipped conv-mnist5k is not in this checkout")
def test_photos_of_ten_test_digits_reconstruct_as_their_own_digit():
    from sklearn.linear_model import LogisticRegression

    from explorer.checkpoint import from_pretrained
    from explorer.data.embedded import load_mnist5k

    data = load_mnist5k()

    xs = np.stack([np.asarray(data.train[i][0]).reshape(-1) for i in range(len(data.train))])
    ys = np.array([int(data.train[i][1]) for i in range(len(data.train))])
    clf = LogisticRegression(max_iter=300, C=0.5).fit(xs, ys)
    model = from_pretrained(MODEL).eval()
    rng = np.random.default_rng(0)
    picked, seen = [], set()
    for i in range(len(data.test)):  # one test item of each digit
        label = int(data.test[i][1])
        if label not in seen:
            seen.add(label)
            picked.append(i)
        if len(picked) == 10:
            break
    right = 0
    for i in picked:
        image, label = data.test[i]
        converted = load_image(_photo(np.asarray(image)[0], rng), (1, 28, 28), 0.0, invert=None, digit=True)
        assert converted.inverted
        with torch.inference_mode():
            recon = model.reconstruct(converted.tensor[None].float())[0].numpy().reshape(1, -1)
        right += int(clf.predict(recon)[0] == int(label))
    assert right >= 8, f"only {right} of 10 photos reconstruct as their own digit"


def test_prepare_digit_crops_scales_and_centres_by_mass():
    ink = np.zeros((100, 140), dtype=np.float32)
    ink[10:50, 90:110] = 1.0  # a 40 x 20 bar, far off-centre
    out = prepare_digit(ink)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 10
    ys, xs = np.indices(out.shape)
    assert abs((ys * out).sum() / out.sum() - 13.5) <= 0.5 and abs((xs * out).sum() / out.sum() - 13.5) <= 0.5


def test_blank_picture_gets_a_clear_message():
    buf = io.BytesIO()
    Image.new("L", (64, 64), 200).save(buf, format="PNG")
    with pytest.raises(ImageInputError, match="blank"):
        load_image(buf.getvalue(), (1, 28, 28), 0.0, invert=None, digit=True)
