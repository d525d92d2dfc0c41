"""The pipeline's scaled latent: (z - shift) * scale, or per channel (z - mean) * scale / std (diffusers' SDXL form)."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.models.foreign import ForeignModelError, load_foreign
from explorer.models.foreign.latent_scaling import LatentScaling

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


def test_folder_with_latents_mean_and_std(kl_folder, tmp_path):
    import shutil

    folder = tmp_path / "stats"
    shutil.copytree(kl_folder, folder)
    raw = json.loads((folder / "config.json").read_text())  # 3 latent channels
    (folder / "config.json").write_text(json.dumps({**raw, "latents_mean": [0.1, -0.2, 0.3], "latents_std": [2.0, 1.0, 0.5]}))
    model = load_foreign(folder)
    assert model.config.latents_mean == (0.1, -0.2, 0.3) and model.config.latents_std == (2.0, 1.0, 0.5)
    z = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    expected = (z - torch.tensor([0.1, -0.2, 0.3]).view(1, 3, 1, 1)) * raw["scaling_factor"] / torch.tensor([2.0, 1.0, 0.5]).view(1, 3, 1, 1)
    assert torch.allclose(model.code_from_latent(z), expected)
    assert "per channel" in model.config.scaling_note() and "from config.json" in model.config.scaling_note()
    (folder / "config.json").write_text(json.dumps({**raw, "latents_mean": [0.1, 0.2], "latents_std": [1.0, 1.0]}))
    with pytest.raises(ForeignModelError, match="'latents_mean' must be null or a list of 3 finite numbers"):
        load_foreign(folder)
