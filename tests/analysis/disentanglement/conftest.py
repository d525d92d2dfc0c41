"""What the disentanglement tests share: a small factor grid of bars and a tiny saved model that encodes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from explorer.checkpoint import save_pretrained
from explorer.data.factors import FactorGrid
from explorer.models import build_model
from explorer.models.base import VAE


class Bars(FactorGrid):
    """A 4 x 6 grid of 8x8 images: a bar at row 2a, of length b + 1."""

    def __init__(self):
        super().__init__("bars", ("row", "length"), (4, 6), (1, 8, 8))

    def images(self, factors):
        f = self.check_factors(factors)
        out = torch.zeros(len(f), 1, 8, 8)
        for i, (a, b) in enumerate(f):
            out[i, 0, 2 * a, : b + 1] = 1.0
        return out


@pytest.fixture
def bars() -> Bars:
    return Bars()


@pytest.fixture
def tiny(tmp_path) -> tuple[VAE, Path]:
    """(model, folder): an untrained 3-D MLP VAE on 1x8x8 images, seeded, in eval mode, saved to tmp_path / "m"."""
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,)).eval()
    save_pretrained(model, tmp_path / "m")
    return model, tmp_path / "m"
