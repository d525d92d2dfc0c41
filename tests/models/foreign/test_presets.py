"""The shipped single-file presets (configs/<preset>/config.json): real architectures, their scalings, torch-free use."""

from __future__ import annotations

import json

import pytest

from explorer.models.foreign.presets import CONFIGS, PRESET_LAYOUT, PRESET_NAMES

# the published pipelines' values (SD 1.5, SDXL base 1.0, SD3 medium, FLUX.1-dev vae/config.json)
PUBLISHED = {"sd1": (0.18215, None), "sdxl": (0.13025, None), "sd3": (1.5305, 0.0609), "flux": (0.3611, 0.1159)}


@pytest.mark.parametrize("preset", sorted(PRESET_NAMES))
def test_preset_builds_the_real_architecture(preset):
    import torch

    AutoencoderKL = pytest.importorskip("diffusers").AutoencoderKL
    raw = json.loads((CONFIGS / preset / "config.json").read_text())
    assert sorted(p.name for p in (CONFIGS / preset).iterdir()) == ["config.json"]  # no weights shipped
    assert (raw["scaling_factor"], raw["shift_factor"]) == PUBLISHED[preset] and raw["force_upcast"] is True
    with torch.device("meta"):  # no memory
        vae = AutoencoderKL.from_config(raw)
    channels, quant = PRESET_LAYOUT[preset]
    assert vae.config.latent_channels == channels and (vae.quant_conv is not None) == quant
    assert sum(p.numel() for p in vae.parameters()) == (83_653_863 if quant else 83_819_683)
