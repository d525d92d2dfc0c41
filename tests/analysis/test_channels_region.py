"""A region edit changes the full decode of a diffusers AutoencoderKL (random weights, a real
config saved with save_pretrained) mostly inside the region: mean |delta| inside >= 3 x mean |delta| outside the
region grown by 8 px."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from explorer.analysis import channels as ch
from explorer.models.foreign.diffusers_kl import load_diffusers_kl
from tests.support.foreign_models import make_kl

TINY_KL = {"block_out_channels": (32, 64), "layers_per_block": 1, "norm_num_groups": 32, "sample_size": 64,
           "latent_channels": 4, "scaling_factor": 0.18215}


def test_region_edit_stays_in_the_region(tmp_path):
    make_kl(tmp_path / "kl", seed=3, **TINY_KL)
    model = load_diffusers_kl(tmp_path / "kl")
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 64, 64, generator=gen)
    with torch.no_grad():
        code = model.encode_code(image)[0].double().numpy()  # (4, 32, 32): f2
    pca = ch.channel_pca(code)
    cells = code.shape[1:]
    mask = ch.rect_mask(cells, 10, 12, 20, 22)  # code cells; pixels 20:40 x 24:44
    moved = ch.move_along(code, pca.components[0], 4.0 * pca.std[0], mask)
    with torch.no_grad():
        before, after = (model.decode_code(torch.from_numpy(c[None]).float())[0].numpy() for c in (code, moved))
    delta = np.abs(after - before).mean(0)  # (64, 64)
    factor = 64 // cells[0]
    region = np.kron(mask, np.ones((factor, factor))).astype(bool)  # (64, 64) pixels
    grown = binary_dilation(region, structure=np.ones((3, 3)), iterations=8)  # the rectangle grown by 8 px each side
    inside, outside = delta[region].mean(), delta[~grown].mean()
    assert inside > 0
    print(f"region edit: mean |delta| inside {inside:.4f}, outside the grown region {outside:.4f}, ratio {inside / outside:.1f}")
    assert inside >= 3 * outside, (inside, outside)
