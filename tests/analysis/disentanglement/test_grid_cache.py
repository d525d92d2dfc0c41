"""Encoding a factor grid once per model: the cached means equal a fresh encoding, the second call reads the
cache, and a retrained model (other weights) gets its own entry."""

import numpy as np
import torch

from explorer.analysis.disentanglement import mig, model_encoder
from explorer.analysis.disentanglement.grid_cache import cached_grid_means, encode_grid
from explorer.checkpoint import save_pretrained
from explorer.data.factors import FactorGrid
from explorer.models import build_model


class Bars(FactorGrid):
    """A 4 x 6 grid of 8x8 images: a bar at row a, of length b + 1."""

    def __init__(self):
        super().__init__("bars", ("row", "length"), (4, 6), (1, 8, 8))

    def images(self, factors):
        f = self.check_factors(factors)
        out = torch.zeros(len(f), 1, 8, 8)
        for i, (a, b) in enumerate(f):
            out[i, 0, 2 * a, : b + 1] = 1.0
        return out


def test_means_are_encoded_once_and_read_back(tmp_path):
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,)).eval()
    save_pretrained(model, tmp_path / "m")
    grid = Bars()
    calls = []

    def encode(images):
        calls.append(len(images))
        return model_encoder(model)(images)

    first, info = cached_grid_means(tmp_path / "m", encode, grid, cache_dir=tmp_path / "cache", batch_size=10)
    assert not info["cached"] and calls == [10, 10, 4] and first.shape == (24, 3)
    np.testing.assert_allclose(first, encode_grid(model_encoder(model), grid), rtol=1e-6)
    again, info = cached_grid_means(tmp_path / "m", encode, grid, cache_dir=tmp_path / "cache")
    assert info["cached"] and len(calls) == 3  # read back: no new encoding
    np.testing.assert_array_equal(first, again)
    assert mig(again, grid, seed=0, num_train=200).settings["codes"] == "posterior means"

    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    save_pretrained(model, tmp_path / "m2")
    _, info = cached_grid_means(tmp_path / "m2", encode, grid, cache_dir=tmp_path / "cache")
    assert not info["cached"]
