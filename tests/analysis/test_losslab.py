"""explorer.analysis.losslab against independent computations: torch's BCE, plain NumPy loops, skimage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.analysis import losslab


@pytest.fixture
def digit():
    rng = np.random.default_rng(0)
    x = np.zeros((1, 12, 12))
    x[0, 3:9, 5:7] = 1.0
    x[0, 3, 4:8] = rng.uniform(0.3, 1.0, 4)
    return x


def test_shift_moves_pixels_and_fills():
    x = np.arange(16, dtype=float).reshape(1, 4, 4)
    up = losslab.shift_image(x, -1, 0, fill=-1)
    assert np.array_equal(up[0, :3], x[0, 1:]) and np.all(up[0, 3] == -1)
    right = losslab.shift_image(x, 0, 2)
    assert np.array_equal(right[0, :, 2:], x[0, :, :2]) and np.all(right[0, :, :2] == 0)
    assert np.all(losslab.shift_image(x, 5, 0) == 0)


def test_seed_shift_matches_seed_001(digit):
    """The per-pixel problem's shift: shifted[0, :-1, :] = image[0, 1:, :] (every pixel up by one)."""
    t = torch.from_numpy(digit)
    seed = torch.zeros_like(t)
    seed[0, :-1, :] = t[0, 1:, :]
    assert np.array_equal(losslab.shift_image(digit, -1, 0), seed.numpy())


def test_bce_matches_torch_in_both_directions(digit):
    eps = 1e-3
    variants = losslab.make_variants(digit, np.full_like(digit, 0.3), (-1, 0), 1.0, 0.0)
    result = losslab.score_variants(variants, eps)
    x = torch.from_numpy(digit)
    for name, v in variants.items():
        p = torch.from_numpy(v).clamp(eps, 1 - eps)
        forward = F.binary_cross_entropy(p, x, reduction="sum").item()  # variant predicts the original
        reverse = F.binary_cross_entropy(x.clamp(eps, 1 - eps), torch.from_numpy(v), reduction="sum").item()
        s = result.score(name)
        assert s.bce_variant_predicts == pytest.approx(forward, rel=1e-9)
        assert s.bce_original_predicts == pytest.approx(reverse, rel=1e-9)
        assert s.mse == pytest.approx(F.mse_loss(torch.from_numpy(v), x).item(), rel=1e-12)


def test_maps_sum_to_scores_and_loop_reference(digit):
    variants = losslab.make_variants(digit, digit * 0.5, (0, 1), 0.7, 0.0)
    result = losslab.score_variants(variants, 1e-4)
    o = digit[0]
    for name, v in variants.items():
        ref = 0.0
        for i in range(o.shape[0]):  # slow reference, written only here
            for j in range(o.shape[1]):
                p = min(max(v[0, i, j], 1e-4), 1 - 1e-4)
                ref -= o[i, j] * np.log(p) + (1 - o[i, j]) * np.log(1 - p)
        assert result.score(name).bce_variant_predicts == pytest.approx(ref, rel=1e-9)
        assert result.maps[name]["bce_variant_predicts"].sum() == pytest.approx(ref, rel=1e-9)
        assert result.maps[name]["mse"].mean() == pytest.approx(result.score(name).mse, rel=1e-12)


def test_ssim_is_skimage_and_latent_distance_is_euclidean(digit):
    from scipy.ndimage import gaussian_filter
    from skimage.metrics import structural_similarity

    blurred = np.clip(gaussian_filter(digit[0], 1.0, mode="nearest"), 0, 1)
    assert np.allclose(losslab.gaussian_blur(digit, 1.0)[0], blurred)
    variants = losslab.make_variants(digit, digit, (-1, 0), 1.0, 0.0)
    means = {n: np.full(4, i, dtype=float) for i, n in enumerate(variants)}
    result = losslab.score_variants(variants, latent_means=means)
    assert result.score("blurred").ssim == pytest.approx(structural_similarity(digit[0], blurred, data_range=1.0, win_size=7))
    assert result.score("blank").latent_distance == pytest.approx(np.sqrt(4 * 3**2))
    assert result.score("original").ssim == pytest.approx(1.0)


def test_ranking_and_explanation_use_the_numbers(digit):
    result = losslab.score_variants(losslab.make_variants(digit, np.full_like(digit, 0.2), (-1, 0), 1.0, 0.0))
    order = losslab.rank(result, "mse")
    mses = [result.score(n).mse for n in order]
    assert mses == sorted(mses) and set(order) == set(losslab.VARIANTS)
    assert losslab.rank(result, "ssim")[0] == max(losslab.VARIANTS, key=lambda n: result.score(n).ssim)
    rows = losslab.ranking_table(result)
    assert {r["variant"] for r in rows} == set(losslab.VARIANTS)
    assert all(r["rank_mse"] == order.index(r["variant"]) + 1 for r in rows)
    text = losslab.explanation(result)
    assert f"one-pixel shift {order.index('shifted') + 1} of 4" in text and text.count(". ") >= 1


def test_rgb_images(digit):
    rgb = np.repeat(digit, 3, axis=0)
    result = losslab.score_variants(losslab.make_variants(rgb, rgb * 0.9, (1, 0), 1.0, np.array([0.1, 0.2, 0.3])))
    assert result.maps["shifted"]["mse"].shape == (12, 12)
    assert np.allclose(losslab.blank_like(rgb, np.array([0.1, 0.2, 0.3]))[:, 0, 0], [0.1, 0.2, 0.3])
    assert 0.0 < result.score("reconstruction").ssim < 1.0


def test_learned_similarity_is_the_feature_distance_and_ranks_the_shift(digit):
    variants = losslab.make_variants(digit, np.full_like(digit, 0.2), (-1, 0), 1.0, 0.0)
    # stand-in features (any shape): the shift lands nearest the original, the blank farthest
    offsets = {"original": 0.0, "shifted": 0.5, "reconstruction": 2.0, "blurred": 1.0, "blank": 3.0}
    features = {n: np.full((2, 3), offsets[n]) for n in variants}
    result = losslab.score_variants(variants, features=features)
    assert result.score("blurred").learned_similarity == pytest.approx(np.sqrt(6 * 1.0**2))
    assert losslab.rank(result, "learned_similarity") == ["shifted", "blurred", "reconstruction", "blank"]
    assert "rank_learned_similarity" in losslab.ranking_table(result)[0]
    text = losslab.learned_ranking(result)
    assert text.startswith("Learned similarity") and "shifted (1.22) < blurred (2.45) < blank (7.35)" in text
    assert "closer than both the blur and the blank" in text
    assert "learned similarity (discriminator features): 1 of 4" in losslab.explanation(result)
    features["shifted"] = np.full((2, 3), 2.5)  # now behind the blur, ahead of the blank
    assert "behind the blur" in losslab.learned_ranking(losslab.score_variants(variants, features=features))
    # without features there is no learned column and no sentence
    plain = losslab.score_variants(variants)
    assert losslab.learned_ranking(plain) == "" and "rank_learned_similarity" not in losslab.ranking_table(plain)[0]
