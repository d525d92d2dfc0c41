"""The pipeline's scaled latent: (z - shift) * scale, or per channel (z - mean) * scale / std (diffusers' SDXL form)."""

from __future__ import annotations

import pytest
import torch

from explorer.models.latent_scaling import LatentScaling

MEAN, STD = (-1.6574, 1.886, -1.383, 2.5155), (8.4927, 5.9022, 6.5498, 5.2299)  # Playground v2.5's config


def test_per_channel_form_matches_a_loop_over_channels():
    scaling = LatentScaling(0.5, 0.0, MEAN, STD)
    z = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    code = scaling.code_from_latent(z)
    for c in range(4):
        assert torch.allclose(code[:, c], (z[:, c] - MEAN[c]) * 0.5 / STD[c])
    assert torch.allclose(scaling.latent_from_code(code), z, atol=1e-5)
    assert "per channel" in scaling.describe()


def test_shift_form_and_bad_values():
    z = torch.randn(1, 16, 2, 2, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(LatentScaling(0.3611, 0.1159).code_from_latent(z), (z - 0.1159) * 0.3611)
    with pytest.raises(ValueError, match="give both"):
        LatentScaling(1.0, 0.0, MEAN, ())
    with pytest.raises(ValueError, match="latents_std must be positive"):
        LatentScaling(1.0, 0.0, MEAN, (1.0, 0.0, 1.0, 1.0))
