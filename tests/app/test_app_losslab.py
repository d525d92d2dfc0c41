"""Loss lab page: every number equals an independent NumPy computation written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.apptest_helpers import errors, open_app, switch_page

EPS = 1e-4


def _reference(folder, index: int, shift=(-1, 0), sigma=1.0, eps=EPS) -> dict[str, dict[str, float]]:
    """Variants and scores of test item `index`, computed without explorer.analysis.losslab or the app."""
    from scipy.ndimage import gaussian_filter
    from skimage.metrics import structural_similarity

    from explorer.checkpoint import from_pretrained
    from explorer.data.embedded import load_mnist5k

    x = load_mnist5k().test[index][0].numpy().astype(np.float64)  # (1, 28, 28)
    model = from_pretrained(folder)
    with torch.inference_mode():
        recon = model.reconstruct(torch.from_numpy(x).float()[None])[0].numpy().astype(np.float64)
        enc = lambda v: model.encode(torch.from_numpy(v).float()[None]).mean[0].flatten().numpy().astype(np.float64)  # noqa: E731
        shifted = np.zeros_like(x)  # every pixel moved by `shift`, vacated pixels black (mnist's background)
        dy, dx = shift
        h, w = x.shape[1:]
        shifted[0, max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = x[0, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        variants = {"shifted": shifted, "reconstruction": recon, "blank": np.zeros_like(x),
                    "blurred": np.clip(gaussian_filter(x[0], sigma, mode="nearest"), 0, 1)[None]}
        z0 = enc(x)
        out = {}
        for name, v in variants.items():
            p = np.clip(v, eps, 1 - eps)
            q = np.clip(x, eps, 1 - eps)
            out[name] = {
                "mse": float(((v - x) ** 2).mean()),
                "bce_variant_predicts": float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum()),
                "bce_original_predicts": float(-(v * np.log(q) + (1 - v) * np.log(1 - q)).sum()),
                "ssim": float(structural_similarity(x[0], v[0], data_range=1.0)),
                "latent_distance": float(np.linalg.norm(enc(v.astype(np.float32)) - z0)),
            }
    return out


def _table(at) -> dict[str, dict[str, float]]:
    df = at.dataframe[0].value
    return {row["variant"]: row for row in df.to_dict("records")}


@pytest.mark.parametrize("index,direction,amount", [(0, "up", 1), (5, "left", 2)])
def test_numbers_equal_an_independent_numpy_computation(conv_model, index, direction, amount):
    at = open_app(conv_model, "losslab")
    at.number_input(key="lab_example").set_value(index).run()
    at.selectbox(key="lab_dir").set_value(direction).run()
    at.slider(key="lab_amount").set_value(amount).run()
    assert not errors(at) and not at.exception
    shift = {"up": (-amount, 0), "left": (0, -amount)}[direction]
    ref = _reference(conv_model, index, shift)
    table = _table(at)
    assert set(table) == set(ref)
    for name, scores in ref.items():
        for measure, value in scores.items():
            assert table[name][measure] == pytest.approx(value, rel=1e-5, abs=1e-6), (name, measure)
    for measure in ("mse", "bce_variant_predicts", "bce_original_predicts", "latent_distance"):
        order = sorted(ref, key=lambda n: ref[n][measure])
        assert [table[n][f"rank by {measure}"] for n in order] == [1, 2, 3, 4], measure
    text = " ".join(m.value for m in at.markdown)
    mse_rank = sorted(ref, key=lambda n: ref[n]["mse"]).index("shifted") + 1
    assert f"ranks the one-pixel shift {mse_rank} of 4" in text  # the explanation uses this image's numbers
    assert "ε = 1e-04" in " ".join(c.value for c in at.caption)


def test_epsilon_and_blur_are_used(conv_model):
    at = open_app(conv_model, "losslab")
    at.select_slider(key="lab_eps").set_value(1e-2).run()
    at.slider(key="lab_sigma").set_value(2.0).run()
    ref = _reference(conv_model, 0, sigma=2.0, eps=1e-2)
    table = _table(at)
    assert table["blank"]["bce_variant_predicts"] == pytest.approx(ref["blank"]["bce_variant_predicts"], rel=1e-6)
    assert table["blurred"]["ssim"] == pytest.approx(ref["blurred"]["ssim"], rel=1e-6)
    assert "ε = 1e-02" in " ".join(c.value for c in at.caption)


def test_rgb_model_and_upload_source(app_env):
    from PIL import Image

    from tests.support.bad_files import digit_like, encode

    at = open_app(app_env["tiny-conv-patches"])
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(32))), "image/png")).run()
    switch_page(at, "losslab").run()
    at.radio(key="lab_source").set_value("upload").run()
    assert not errors(at) and not at.exception
    assert len(_table(at)) == 4
    # no VAE/GAN discriminator takes 3x32x32 images: each variant's learned similarity is a dash, not "nan", and
    # the section below says why
    shown = [c.value for c in at.caption]
    assert sum("learned –" in c for c in shown) == 5 and not any("nan" in c for c in shown), shown
    assert any(c.startswith("No learned similarity for this image: no VAE/GAN discriminator for 3x32x32") for c in shown)
