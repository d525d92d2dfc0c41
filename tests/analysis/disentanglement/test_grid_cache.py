"""Encoding a factor grid once per model: the cached means equal a fresh encoding, the second call reads the
cache, and a retrained model (other weights) gets its own entry."""

import numpy as np
import torch

from explorer.analysis.disentanglement import mig, model_encoder
from explorer.analysis.disentanglement.grid_cache import cached_grid_means, encode_grid
from explorer.checkpoint import save_pretrained


def test_means_are_encoded_once_and_read_back(tiny, bars, tmp_path):
    model, folder = tiny
    grid = bars
    calls = []

    def encode(images):
        calls.append(len(images))
        return model_encoder(model)(images)

    first, info = cached_grid_means(folder, encode, grid, cache_dir=tmp_path / "cache", batch_size=10)
    assert not info["cached"] and calls == [10, 10, 4] and first.shape == (24, 3)
    np.testing.assert_allclose(first, encode_grid(model_encoder(model), grid), rtol=1e-6)
    again, info = cached_grid_means(folder, encode, grid, cache_dir=tmp_path / "cache")
    assert info["cached"] and len(calls) == 3  # read back: no new encoding
    np.testing.assert_array_equal(first, again)
    assert mig(again, grid, seed=0, num_train=200).settings["codes"] == "posterior means"

    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    save_pretrained(model, tmp_path / "m2")
    _, info = cached_grid_means(tmp_path / "m2", encode, grid, cache_dir=tmp_path / "cache")
    assert not info["cached"]
