"""Original-layout single-file AutoencoderKL checkpoints (A1111 / ComfyUI), on tiny configs with random weights.

The files are written with `foreign_models.write_ldm_file` (diffusers -> original names); loading them goes through
diffusers' own conversion, so equal weights after the round trip check the mapping against diffusers.
"""

from __future__ import annotations

import pytest
import torch

from explorer.models.foreign import ForeignModelError, describe_model_path, load_foreign
from tests.support.foreign_models import make_kl, write_ldm_file

pytest.importorskip("diffusers")

TINY = dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32, sample_size=32)
TINY_SD = dict(TINY, latent_channels=4, scaling_factor=0.18215)
TINY_FLUX = dict(TINY, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False, scaling_factor=0.3611,
                 shift_factor=0.1159)


@pytest.fixture(scope="module")
def sd_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("single")
    vae = make_kl(root / "folder", seed=1, **TINY_SD)
    return vae, write_ldm_file(vae, root / "vae.safetensors")


@pytest.fixture(scope="module")
def flux_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("single_flux")
    vae = make_kl(root / "folder", seed=2, **TINY_FLUX)
    return vae, write_ldm_file(vae, root / "ae.safetensors")


def assert_same_weights(reference: torch.nn.Module, loaded: torch.nn.Module) -> None:
    a, b = reference.state_dict(), loaded.state_dict()
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_sd_single_file_loads_the_same_weights_with_sd1_by_default(sd_pair):
    vae, path = sd_pair
    model = load_foreign(path, image_size=32)
    assert_same_weights(vae, model.vae)
    config = model.config
    assert config.latent_shape == (4, 16, 16) and config.input_shape == (3, 32, 32)
    assert config.preset == "sd1" and config.preset_by_default and config.scaling_factor == 0.18215
    assert config.force_upcast and config.dtype == "float32"
    assert "SD 1.x preset, by default" in config.scaling_note() and "SDXL" in config.scaling_note()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = vae.encode(x * 2 - 1).latent_dist.mean
        assert torch.allclose(model.encode_code(x), z * 0.18215, atol=1e-6)
        assert torch.allclose(model.decode(z).mean, ((vae.decode(z).sample + 1) / 2).clamp(0, 1), atol=1e-6)


def test_sdxl_preset_is_chosen_by_the_user(sd_pair):
    model = load_foreign(sd_pair[1], image_size=32, preset="sdxl")
    assert model.config.preset == "sdxl" and not model.config.preset_by_default
    assert model.config.scaling_factor == 0.13025
    assert model.config.scaling_note().startswith("SDXL preset, chosen")


def test_full_checkpoint_with_first_stage_model_prefix(sd_pair, tmp_path):
    vae, _ = sd_pair
    unet = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
            "cond_stage_model.transformer.text_model.embeddings.position_ids": torch.arange(77)[None]}
    path = write_ldm_file(vae, tmp_path / "full.safetensors", prefix="first_stage_model.", extra=unet)
    model = load_foreign(path, image_size=32)
    assert_same_weights(vae, model.vae)
    assert "inside a full checkpoint (first_stage_model.*)" in describe_model_path(path)["summary"]


def test_flux_single_file_has_16_channels_scaling_and_shift(flux_pair):
    vae, path = flux_pair
    model = load_foreign(path, image_size=32)
    assert_same_weights(vae, model.vae)
    assert model.config.preset == "flux" and model.config.latent_shape == (16, 16, 16)
    assert (model.config.scaling_factor, model.config.shift_factor) == (0.3611, 0.1159)
    assert model.vae.quant_conv is None and model.vae.post_quant_conv is None
    z = torch.randn(1, 16, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.code_from_latent(z), (z - 0.1159) * 0.3611)
    assert torch.allclose(model.latent_from_code(model.code_from_latent(z)), z, atol=1e-6)
    assert load_foreign(path, image_size=32, preset="sd3").config.scaling_factor == 1.5305


def test_from_config_rebuilds_a_single_file_model(sd_pair):
    model = load_foreign(sd_pair[1], image_size=32, preset="sdxl")
    again = type(model).from_config(model.config)
    assert again.config == model.config
    assert_same_weights(model.vae, again.vae)


def test_float16_is_upcast_where_the_config_says_force_upcast(sd_pair):
    model = load_foreign(sd_pair[1], image_size=32, dtype=torch.float16)
    assert model.config.dtype == "float32" and next(model.vae.parameters()).dtype == torch.float32
    bf16 = load_foreign(sd_pair[1], image_size=32, dtype="bfloat16")
    assert bf16.config.dtype == "bfloat16" and next(bf16.vae.parameters()).dtype == torch.bfloat16
    out = bf16.decode(torch.zeros(1, 4, 16, 16)).mean
    assert out.dtype == torch.float32 and out.shape == (1, 3, 32, 32)


def test_preset_that_does_not_fit_is_refused(sd_pair, flux_pair):
    with pytest.raises(ForeignModelError, match=r"preset 'flux' \(FLUX\) has 16 latent channels without quant_conv, "
                                                r"but the file has 4 latent channels with quant_conv"):
        load_foreign(sd_pair[1], preset="flux")
    with pytest.raises(ForeignModelError, match=r"preset 'sd2' is not one of \['flux', 'sd1', 'sd3', 'sdxl'\]"):
        load_foreign(flux_pair[1], preset="sd2")


def test_missing_keys_are_named(sd_pair, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(sd_pair[1]))
    dropped = ["decoder.mid.attn_1.q.weight", "decoder.up.0.block.1.conv2.bias", "post_quant_conv.weight"]
    save_file({k: v for k, v in state.items() if k not in dropped}, str(tmp_path / "torn.safetensors"))
    with pytest.raises(ForeignModelError) as info:
        load_foreign(tmp_path / "torn.safetensors")
    message = str(info.value)
    assert "3 key(s) missing" in message and all(k in message for k in dropped[:2])


def test_wrong_shapes_are_named(sd_pair, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(sd_pair[1]))
    state["decoder.mid.attn_1.k.weight"] = torch.zeros(64, 32, 1, 1)
    save_file(state, str(tmp_path / "bent.safetensors"))
    with pytest.raises(ForeignModelError, match=r"decoder.mid.attn_1.k.weight: \[64, 32, 1, 1\], expected \[64, 64, 1, 1\]"):
        load_foreign(tmp_path / "bent.safetensors")


def test_unsupported_layouts_are_refused(tmp_path):
    eight = write_ldm_file(make_kl(None, **dict(TINY, latent_channels=8)), tmp_path / "eight.safetensors")
    with pytest.raises(ForeignModelError, match="8 latent channels with quant_conv .* matches none of the shipped configs"):
        load_foreign(eight)
    odd = write_ldm_file(make_kl(None, **dict(TINY_SD, block_out_channels=(8, 16), norm_num_groups=4)),
                         tmp_path / "odd.safetensors")
    with pytest.raises(ForeignModelError, match=r"block channels \[8, 16\] .* not multiples of .* norm_num_groups 32"):
        load_foreign(odd)


def test_diffusers_layout_file_and_other_files_are_refused(kl_folder, tmp_path):
    import shutil

    shutil.copy(kl_folder / "diffusion_pytorch_model.safetensors", tmp_path / "diffusers_layout.safetensors")
    with pytest.raises(ForeignModelError, match="keys are in diffusers' layout .*: give the folder"):
        load_foreign(tmp_path / "diffusers_layout.safetensors")
    with pytest.raises(ForeignModelError, match="weights of the folder .*: give the folder"):
        load_foreign(kl_folder / "diffusion_pytorch_model.safetensors")
    (tmp_path / "renamed.safetensors").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ForeignModelError, match="not a valid safetensors file .* never as pickles"):
        load_foreign(tmp_path / "renamed.safetensors")


@pytest.mark.parametrize("name", ["vae-ft-mse-840000-ema-pruned.ckpt", "ae.pt"])
def test_pickles_are_refused(tmp_path, name):
    from explorer.models.foreign.diffusers_kl import load_single_file

    path = tmp_path / name
    path.write_bytes(b"\x80\x04K\x01.")
    for load in (load_foreign, load_single_file):
        with pytest.raises(ForeignModelError, match="a pickle.*never loaded"):
            load(path)


def test_preset_on_a_folder_is_refused(kl_folder):
    with pytest.raises(ForeignModelError, match="preset='sdxl' only applies to single-file checkpoints"):
        load_foreign(kl_folder, preset="sdxl")


def test_picker_describes_a_single_file_without_loading_it(sd_pair, flux_pair):
    entry = describe_model_path(sd_pair[1])
    assert entry["kind"] == "single_file" and entry["error"] is None
    assert entry["summary"] == ("original-layout AutoencoderKL, 4 latent channels with quant_conv, blocks 32-64; "
                                "SD 1.x scaling by default")
    assert "16 latent channels without quant_conv" in describe_model_path(flux_pair[1])["summary"]


def test_checkpoint_from_pretrained_passes_the_preset(sd_pair):
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(sd_pair[1], "cpu", image_size=32, preset="sdxl")
    assert model.config.preset == "sdxl" and model.config.scaling_factor == 0.13025
