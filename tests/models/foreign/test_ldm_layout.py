"""The original (CompVis / ldm) key layout: names from diffusers' keys, and the architecture from a file's shapes."""

from __future__ import annotations

import pytest

from explorer.models.foreign.errors import ForeignModelError
from explorer.models.foreign.ldm_layout import infer_layout, ldm_key, ldm_shape


@pytest.mark.parametrize("diffusers_key, original", [
    ("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", "encoder.down.1.block.0.nin_shortcut.weight"),
    ("encoder.down_blocks.2.downsamplers.0.conv.bias", "encoder.down.2.downsample.conv.bias"),
    ("decoder.up_blocks.0.resnets.2.conv1.weight", "decoder.up.3.block.2.conv1.weight"),  # numbered from the bottom
    ("decoder.up_blocks.2.upsamplers.0.conv.weight", "decoder.up.1.upsample.conv.weight"),
    ("encoder.mid_block.resnets.1.norm2.bias", "encoder.mid.block_2.norm2.bias"),
    ("decoder.mid_block.attentions.0.to_out.0.weight", "decoder.mid.attn_1.proj_out.weight"),
    ("decoder.mid_block.attentions.0.group_norm.weight", "decoder.mid.attn_1.norm.weight"),
    ("encoder.conv_norm_out.weight", "encoder.norm_out.weight"),
    ("post_quant_conv.bias", "post_quant_conv.bias"),
])
def test_ldm_key(diffusers_key, original):
    assert ldm_key(diffusers_key, 4) == original


def test_attention_projections_are_1x1_convs():
    assert ldm_shape("decoder.mid_block.attentions.0.to_q.weight", (512, 512)) == (512, 512, 1, 1)
    assert ldm_shape("decoder.mid_block.attentions.0.to_q.bias", (512,)) == (512,)
    assert ldm_shape("decoder.conv_in.weight", (512, 4, 3, 3)) == (512, 4, 3, 3)


def sd_like_shapes(prefix: str = "") -> dict[str, tuple[int, ...]]:
    shapes = {"encoder.conv_in.weight": (128, 3, 3, 3), "encoder.conv_out.weight": (8, 512, 3, 3),
              "decoder.conv_in.weight": (512, 4, 3, 3), "decoder.conv_out.weight": (3, 128, 3, 3),
              "quant_conv.weight": (8, 8, 1, 1), "post_quant_conv.weight": (4, 4, 1, 1),
              "encoder.mid.attn_1.q.weight": (512, 512, 1, 1)}
    for i, c in enumerate((128, 256, 512, 512)):
        for j in range(2):
            shapes[f"encoder.down.{i}.block.{j}.conv1.weight"] = (c, c, 3, 3)
    return {prefix + k: v for k, v in shapes.items()}


@pytest.mark.parametrize("prefix", ["", "first_stage_model.", "vae."])
def test_infer_layout(prefix):
    layout = infer_layout(sd_like_shapes(prefix), "x.safetensors")
    assert (layout.prefix, layout.latent_channels, layout.block_out_channels, layout.layers_per_block) == \
        (prefix, 4, (128, 256, 512, 512), 2)
    assert layout.use_quant_conv and layout.use_post_quant_conv and layout.mid_block_add_attention
    assert layout.downsampling == 8


def test_infer_layout_names_missing_core_keys():
    shapes = sd_like_shapes("first_stage_model.")
    del shapes["first_stage_model.encoder.conv_out.weight"]
    with pytest.raises(ForeignModelError, match=r"1 key\(s\) missing, e.g. first_stage_model.encoder.conv_out.weight"):
        infer_layout(shapes, "x.safetensors")
    with pytest.raises(ForeignModelError, match="not a complete original-layout"):
        infer_layout({"model.diffusion_model.out.0.weight": (4,)}, "unet_only.safetensors")
