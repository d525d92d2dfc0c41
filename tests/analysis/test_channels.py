"""explorer.analysis.channels against independent references: scikit-learn's PCA, torch's KL, plain loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from explorer.analysis import channels as ch


@pytest.fixture
def codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(4, 4)) * np.array([3.0, 1.5, 0.7, 0.2])[:, None]  # distinct variances per direction
    base = rng.normal(size=(6, 8, 5, 4))  # (N, H, W, C)
    return (base @ mix + np.array([1.0, -2.0, 0.5, 0.0])).transpose(0, 3, 1, 2)  # (N, C, H, W)


def test_stats_match_a_loop_over_channels(codes):
    stats = ch.channel_stats(codes)
    for c in range(codes.shape[1]):
        values = [codes[n, c, i, j] for n in range(codes.shape[0]) for i in range(codes.shape[2])
                  for j in range(codes.shape[3])]
        assert stats.mean[c] == pytest.approx(np.mean(values))
        assert stats.std[c] == pytest.approx(np.std(values))
        assert stats.minimum[c] == min(values) and stats.maximum[c] == max(values)
    assert stats.cells == codes.shape[0] * codes.shape[2] * codes.shape[3]
    counts, edges = ch.channel_histograms(codes, bins=7)
    assert counts.shape == (4, 7) and edges.shape == (4, 8) and (counts.sum(1) == stats.cells).all()


def test_kl_per_channel_matches_torch():
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(3, 4, 5, 6)), rng.normal(scale=0.5, size=(3, 4, 5, 6))
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
    p = torch.distributions.Normal(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    want = torch.distributions.kl_divergence(q, p).sum((2, 3)).mean(0).numpy()
    np.testing.assert_allclose(ch.channel_kl(mu, logvar), want, rtol=1e-10)


def test_channel_pca_matches_sklearn(codes):
    pca = ch.channel_pca(codes)
    cells = codes.transpose(0, 2, 3, 1).reshape(-1, 4)
    ref = PCA(n_components=4).fit(cells)
    np.testing.assert_allclose(pca.explained, ref.explained_variance_ratio_, rtol=1e-8)
    for mine, theirs in zip(pca.components, ref.components_):  # same directions up to sign
        assert abs(float(mine @ theirs)) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(np.abs(pca.project(codes).transpose(0, 2, 3, 1).reshape(-1, 4)),
                               np.abs(ref.transform(cells)), atol=1e-8)
    np.testing.assert_allclose(pca.std**2, ref.explained_variance_ * (len(cells) - 1) / len(cells), rtol=1e-8)


def test_pca_rgb_is_an_image_in_range(codes):
    pca = ch.channel_pca(codes)
    rgb = ch.pca_rgb(codes[0], pca)
    assert rgb.shape == (3, 8, 5) and rgb.min() >= 0 and rgb.max() <= 1 and rgb.std() > 0
    two = ch.channel_pca(codes[:, :2])  # fewer than three channels: the third colour is grey
    assert np.all(ch.pca_rgb(codes[0, :2], two)[2] == 0.5)


def test_keep_first_channels(codes):
    mean = ch.channel_stats(codes).mean
    kept = ch.keep_first_channels(codes[0], 2, mean)
    np.testing.assert_array_equal(kept[:2], codes[0, :2])
    for c in (2, 3):
        assert np.all(kept[c] == mean[c])
    np.testing.assert_array_equal(ch.keep_first_channels(codes[0], 4, mean), codes[0])
    with pytest.raises(ValueError, match="between 0 and the channel count 4"):
        ch.keep_first_channels(codes[0], 5, mean)


def test_region_move_touches_only_the_region(codes):
    pca = ch.channel_pca(codes)
    mask = ch.rect_mask((8, 5), 2, 1, 5, 3)
    moved = ch.move_along(codes[0], pca.components[0], 2.0, mask)
    delta = moved - codes[0]
    for i in range(8):
        for j in range(5):
            inside = 2 <= i < 5 and 1 <= j < 3
            want = 2.0 * pca.components[0] if inside else np.zeros(4)
            np.testing.assert_allclose(delta[:, i, j], want, atol=1e-12)
    everywhere = ch.move_along(codes[0], pca.components[0], 1.0)
    np.testing.assert_allclose(pca.project(everywhere)[0] - pca.project(codes[0])[0], 1.0)
    with pytest.raises(ValueError, match="inside 8 x 5"):
        ch.rect_mask((8, 5), 3, 0, 9, 2)


def test_walk_axes_are_principal_directions_then_channels_in_units_of_their_spread(codes):
    pca = ch.channel_pca(codes)
    axes = ch.walk_axes(pca, codes, n_directions=2, n_channels=3)
    assert axes.directions.shape == (5, 4) and axes.scales.shape == (5,) and len(axes.labels) == 5
    np.testing.assert_allclose(axes.directions[:2], pca.components[:2])
    np.testing.assert_allclose(axes.directions[2:], np.eye(4)[:3])
    np.testing.assert_allclose(axes.scales[:2], pca.std[:2])
    np.testing.assert_allclose(axes.scales[2:], ch.channel_stats(codes).std[:3])
    assert axes.labels[0].startswith("direction 1 (") and axes.labels[2:] == ["channel 0", "channel 1", "channel 2"]
    # one unit along a direction moves every cell's projection on it by that direction's spread
    values = np.array([1.0, 0, 0, 0, 0])
    moved = ch.walked(codes[0], axes, values)
    np.testing.assert_allclose(pca.project(moved)[0] - pca.project(codes[0])[0], pca.std[0])
    # units of several axes add up, and a mask keeps the move to its cells
    mask = ch.rect_mask((8, 5), 0, 0, 2, 2)
    values = np.array([0.5, 0, 0, 2.0, 0])
    delta = ch.walked(codes[0], axes, values, mask) - codes[0]
    want = 0.5 * pca.std[0] * pca.components[0] + 2.0 * axes.scales[3] * np.eye(4)[1]
    np.testing.assert_allclose(delta[:, 1, 1], want, atol=1e-12)
    np.testing.assert_allclose(delta[:, 5, 4], 0.0, atol=1e-12)
    # more axes asked for than there are channels: capped at C; a channel of no spread has a unit of 1
    flat = codes.copy()
    flat[:, 3] = 7.0
    capped = ch.walk_axes(ch.channel_pca(flat), flat, n_directions=9, n_channels=9)
    assert len(capped.labels) == 8 and capped.scales[-1] == 1.0


def test_latents_json_has_diffusers_keys(codes):
    out = json.loads(ch.latents_stats_json(ch.channel_stats(codes), "photos", "kl"))
    assert len(out["latents_mean"]) == 4 and len(out["latents_std"]) == 4
    np.testing.assert_allclose(out["latents_mean"], codes.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(out["latents_std"], codes.std(axis=(0, 2, 3)))
