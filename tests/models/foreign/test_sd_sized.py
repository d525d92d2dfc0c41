"""Real SD and FLUX VAE shapes (random weights): the original-layout names and shapes, and single files that load to
the same weights as the save_pretrained folders. Slow: the models are built once per session (`sd_sized`)."""

from __future__ import annotations

import pytest
import torch

from explorer.models.foreign import load_foreign
from explorer.models.foreign.ldm_layout import read_header

pytestmark = pytest.mark.slow

# A fixed list of the original (CompVis / ldm) layout's names and shapes for the SD 1.x config, as A1111 and ComfyUI
# files hold them. The decoder's blocks are numbered from the bottom (up.3 is the first to run), and attention
# projections are 1x1 convs (C, C, 1, 1), not Linear weights.
SD1_ORIGINAL_SHAPES = {
    "encoder.conv_in.weight": [128, 3, 3, 3],
    "encoder.down.0.block.0.conv1.weight": [128, 128, 3, 3],
    "encoder.down.0.downsample.conv.weight": [128, 128, 3, 3],
    "encoder.down.1.block.0.nin_shortcut.weight": [256, 128, 1, 1],
    "encoder.down.3.block.1.conv2.weight": [512, 512, 3, 3],
    "encoder.mid.block_1.norm1.weight": [512],
    "encoder.mid.attn_1.q.weight": [512, 512, 1, 1],
    "encoder.mid.attn_1.proj_out.weight": [512, 512, 1, 1],
    "encoder.norm_out.weight": [512],
    "encoder.conv_out.weight": [8, 512, 3, 3],
    "quant_conv.weight": [8, 8, 1, 1],
    "post_quant_conv.weight": [4, 4, 1, 1],
    "decoder.conv_in.weight": [512, 4, 3, 3],
    "decoder.mid.attn_1.q.weight": [512, 512, 1, 1],
    "decoder.mid.attn_1.k.weight": [512, 512, 1, 1],
    "decoder.mid.attn_1.v.weight": [512, 512, 1, 1],
    "decoder.mid.attn_1.norm.weight": [512],
    "decoder.mid.block_2.conv2.weight": [512, 512, 3, 3],
    "decoder.up.3.block.0.conv1.weight": [512, 512, 3, 3],
    "decoder.up.3.upsample.conv.weight": [512, 512, 3, 3],
    "decoder.up.1.block.0.nin_shortcut.weight": [256, 512, 1, 1],
    "decoder.up.1.upsample.conv.weight": [256, 256, 3, 3],
    "decoder.up.0.block.0.nin_shortcut.weight": [128, 256, 1, 1],
    "decoder.up.0.block.2.conv2.weight": [128, 128, 3, 3],
    "decoder.norm_out.weight": [128],
    "decoder.conv_out.weight": [3, 128, 3, 3],
}
ABSENT = ["decoder.up.0.upsample.conv.weight", "encoder.down.3.downsample.conv.weight"]  # no resampling at the ends


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_sd1_original_layout_names_and_shapes(sd_sized):
    shapes = read_header(sd_sized["sd1_file"])
    for key, shape in SD1_ORIGINAL_SHAPES.items():
        assert list(shapes[key]) == shape, key
    assert not set(ABSENT) & set(shapes)
    full = read_header(sd_sized["sd1_full"])
    assert {"first_stage_model." + k: v for k, v in shapes.items()}.items() <= full.items()


def test_sd1_single_file_equals_the_folder(sd_sized):
    torch.set_num_threads(1)
    folder = load_foreign(sd_sized["sd1"])
    single = load_foreign(sd_sized["sd1_file"], image_size=256)
    assert sum(p.numel() for p in folder.vae.parameters()) == 83_653_863
    assert_same_weights(folder.vae, single.vae)
    assert single.config.latent_shape == folder.config.latent_shape == (4, 32, 32)
    assert single.config.scaling_factor == folder.config.scaling_factor == 0.18215 and single.config.preset == "sd1"
    full = load_foreign(sd_sized["sd1_full"], image_size=256)
    assert_same_weights(folder.vae, full.vae)
    code = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))  # a 32 px decode: cheap
    with torch.no_grad():
        assert torch.equal(single.decode_code(code), folder.decode_code(code))


def test_flux_like_folder_and_single_file(sd_sized):
    torch.set_num_threads(1)
    folder = load_foreign(sd_sized["flux"])
    single = load_foreign(sd_sized["flux_file"], image_size=256)
    for model in (folder, single):
        assert model.config.latent_shape == (16, 32, 32)
        assert (model.config.scaling_factor, model.config.shift_factor) == (0.3611, 0.1159)
        assert model.vae.quant_conv is None and model.vae.post_quant_conv is None
    assert single.config.preset == "flux" and single.config.preset_by_default
    assert_same_weights(folder.vae, single.vae)
    assert "quant_conv.weight" not in read_header(sd_sized["flux_file"])
