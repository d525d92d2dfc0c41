"""Data-set-level code usage against scipy and loops written here, per-image histograms, code -> patches, the
codebook map, sampling from usage, and the metrics a card prints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from explorer.analysis.codebook import (
    cell_boxes, cellwise_path, code_patches, codebook_metrics, codebook_pca, count_codes, lattice_positions,
    nearest_codes, pooled_histograms, sample_from_usage, usage_stats,
)
from explorer.data.base import TensorImageDataset
from explorer.models import build_model
from explorer.models.base import CodeLevel

LEVEL = CodeLevel("code", (4, 4), 4, 18, 7, 4, 16)


def test_usage_perplexity_and_dead_codes_against_scipy():
    rng = np.random.default_rng(0)
    indices = rng.choice(10, size=(50, 4, 4), p=np.r_[np.full(5, 0.15), np.full(5, 0.05)])  # codes 10..15 never
    stats = usage_stats(indices, 16)
    expected = np.array([(indices == k).sum() for k in range(16)])  # counted by a loop, not by bincount
    assert np.array_equal(stats.counts, expected)
    assert stats.used == 10 and list(stats.dead_codes) == [10, 11, 12, 13, 14, 15] and stats.share_in_use == 10 / 16
    assert stats.perplexity == pytest.approx(math.exp(scipy.stats.entropy(expected)))
    assert stats.label().startswith("data set-level perplexity") and "50 items" in stats.label()
    assert usage_stats(indices[:1], 16, scope="batch").label().startswith("batch-level")
    with pytest.raises(ValueError, match=r"code index 16 is outside the codebook: indices run 0\.\.15"):
        count_codes(np.array([1, 16]), 16)


def test_pooled_histograms_match_a_loop():
    indices = np.random.default_rng(1).integers(0, 16, size=(6, 4, 4))
    hist = pooled_histograms(indices, 16)
    for i in range(6):
        assert np.allclose(hist[i], np.bincount(indices[i].ravel(), minlength=16) / 16)


def test_cell_boxes_and_patches():
    footprint, field = cell_boxes(LEVEL, 1, 2, (16, 16))
    assert footprint == (4, 8, 8, 12) and field == (0, 1, 15, 16)  # 18 px from (4 - 7, 8 - 7) = (-3, 1), clipped
    indices = np.zeros((5, 4, 4), int)
    indices[3, 2, 1] = indices[3, 0, 0] = 9
    indices[1, 3, 3] = 9
    patches = code_patches(indices, 9, LEVEL, (16, 16), top=8)
    assert [(p.item, p.count, p.cell) for p in patches] == [(3, 2, (0, 0)), (1, 1, (3, 3))]
    with pytest.raises(ValueError, match=r"code 16 is outside the codebook of level 'code': codes run 0\.\.15"):
        code_patches(indices, 16, LEVEL, (16, 16))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 16, 16), channels=(8, 16), res_blocks=1, codebook_size=16,
                        code_dim=4).eval()
    images = (torch.rand(40, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    return model, TensorImageDataset(images, torch.zeros(40, dtype=torch.long))


def test_codebook_map_and_samples_from_usage(tiny):
    model, data = tiny
    x = torch.stack([data[i][0] for i in range(len(data))])
    stats = usage_stats(model.encode_indices(x)[0], 16)
    book = codebook_pca(model, stats)
    assert book.coords.shape == (16, 2) and np.array_equal(book.counts, stats.counts)
    images, indices = sample_from_usage(model, [stats], 3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 16, 16) and indices[0].shape == (3, 4, 4)
    assert set(indices[0].unique().tolist()) <= set(np.flatnonzero(stats.counts).tolist())  # only codes in use


def test_metrics_for_the_card(tiny):
    model, data = tiny
    metrics = codebook_metrics(model, data, "bernoulli", batch_size=16)
    x = torch.stack([data[i][0] for i in range(len(data))])
    counts = np.bincount(model.encode_indices(x)[0].numpy().ravel(), minlength=16)
    assert metrics["codes_used"] == int((counts > 0).sum()) and metrics["dead_codes"] == 16 - metrics["codes_used"]
    assert metrics["perplexity"] == pytest.approx(math.exp(scipy.stats.entropy(counts)))
    assert metrics["perplexity_over_k"] == pytest.approx(metrics["perplexity"] / 16)
    mse = float(((x - model.reconstruct(x)) ** 2).mean())
    assert metrics["psnr_db"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-4)
    assert set(metrics["metric_descriptions"]) == {k for k in metrics if k not in ("metric_descriptions", "codebook_size")}


def test_cellwise_path_swaps_whole_cells_from_one_grid_to_the_other():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 16, size=(4, 4)), rng.integers(0, 16, size=(4, 4))
    b[0, 0] = a[0, 0]  # one cell the same in both
    path = cellwise_path(a, b, 5, seed=0)
    assert path.shape == (5, 4, 4) and np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    differ = int((a != b).sum())
    switched = [int((p != a).sum()) for p in path]
    assert switched == [round(t / 4 * differ) for t in range(5)]  # a growing share of the differing cells
    for p in path:  # every cell holds one grid's code or the other's, never a third
        assert np.all((p == a) | (p == b))
        assert np.all((p != a) <= (path[-1] != a))
    with pytest.raises(ValueError, match="differ in shape"):
        cellwise_path(a, b[:2], 3)


def test_lattice_positions_recover_the_levels_of_a_lattice():
    levels = [3, 2, 4]
    points = np.array([[i, j, k] for k in range(4) for j in range(2) for i in range(3)], dtype=np.float32)
    scaled = points / (np.array(levels) - 1) * 2 - 1 + 1e-7  # values in [-1, 1] with float noise, as FSQ's are
    assert np.array_equal(lattice_positions(scaled), points.astype(int))


def test_nearest_codes_against_a_loop():
    vectors = np.random.default_rng(3).normal(size=(12, 4)).astype(np.float32)
    near = nearest_codes(vectors, 5, 4)
    by_loop = sorted((k for k in range(12) if k != 5), key=lambda k: float(((vectors[k] - vectors[5]) ** 2).sum()))
    assert list(near) == by_loop[:4]
    assert len(nearest_codes(vectors, 0, 50)) == 11
    with pytest.raises(ValueError, match="code 12 is outside the codebook"):
        nearest_codes(vectors, 12, 3)
