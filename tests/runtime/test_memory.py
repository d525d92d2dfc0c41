"""Peak-memory estimates, the up-front refusal and available memory (explorer.runtime.memory)."""

from __future__ import annotations

import pytest
import torch

from explorer.models.registry import build_model
from explorer.runtime.memory import (
    KL_OVERHEAD_BYTES, MemoryEstimate, MemoryRefused, autoencoder_kl_activation_bytes, available_bytes, bytes_from_gb,
    check_fits, estimate_peak, format_bytes, largest_batch)
from tests.support.slow_model import GB

SD = {"block_out_channels": [128, 256, 512, 512], "latent_channels": 4, "in_channels": 3}


def _tiny_kl():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, sample_size=32,
                                   down_block_types=("DownEncoderBlock2D",) * 2,
                                   up_block_types=("UpDecoderBlock2D",) * 2).eval()


def test_sd_decode_is_led_by_the_last_up_blocks_first_resnet():
    # at 256 px the last up block runs at 256x256 with a 256-channel input and 128 output channels
    expected = 256 * 256 * (3 * 256 + 128) * 4
    got = autoencoder_kl_activation_bytes(SD, "decode", 1, (256, 256))
    overhead = KL_OVERHEAD_BYTES["decode"]  # measured, independent of the image
    assert got - expected == overhead
    # four times the pixels, about four times the activations; the batch multiplies them
    at_512 = autoencoder_kl_activation_bytes(SD, "decode", 1, (512, 512))
    assert at_512 - overhead == 4 * expected
    assert autoencoder_kl_activation_bytes(SD, "decode", 2, (256, 256)) - overhead == 2 * expected


def test_encode_is_led_by_the_first_down_block_at_full_resolution():
    got = autoencoder_kl_activation_bytes(SD, "encode", 1, (256, 256))
    assert got - 30 * 2**20 == int(256 * 256 * 4 * 128 * 4 * 1.25)


def test_tiling_bounds_a_large_decode_by_one_tile():
    vae = _tiny_kl()
    plain = [estimate_peak(vae, "decode", 1, (s, s)).activation_bytes for s in (256, 512)]
    vae.enable_tiling()
    tiled = [estimate_peak(vae, "decode", 1, (s, s)).activation_bytes for s in (256, 512)]
    assert tiled[0] < plain[0] and tiled[1] < plain[1]
    # beyond a tile only the kept 3-channel tiles and the output grow, not the decoder's activations
    assert tiled[1] - tiled[0] < (plain[1] - plain[0]) / 4
    tiled = estimate_peak(vae, "decode", 1, (256, 256))
    assert estimate_peak(vae, "decode", 1, (32, 32)) == estimate_peak(vae, "decode", 1, (32, 32))
    assert tiled.weights_bytes == sum(p.numel() * 4 for p in vae.parameters())


def test_diffusers_kl_vae_is_estimated_through_its_autoencoder(tmp_path):
    from tests.support.foreign_models import make_autoencoder_kl

    from explorer.models.foreign.diffusers_kl import load_diffusers_kl

    model = load_diffusers_kl(make_autoencoder_kl(tmp_path / "kl"))
    estimate = estimate_peak(model, "decode", 3)
    assert estimate.image_hw == (16, 16) and estimate.batch == 3
    assert estimate.activation_bytes == estimate_peak(model.vae, "decode", 3, (16, 16)).activation_bytes


def test_a_family_without_an_estimator_is_probed_and_scales_with_batch():
    import tests.support.minimal_family  # noqa: F401  (registers "minimal-test")

    model = build_model("minimal-test", input_shape=(1, 8, 8), latent_dim=4)
    one = estimate_peak(model, "decode", 1)
    four = estimate_peak(model, "decode", 4)
    # the decoder's Linear: input 4 floats + output 64 floats, twice (previous activation and a temporary)
    assert one.activation_bytes == 2 * (4 + 64) * 4
    assert four.activation_bytes == 4 * one.activation_bytes
    assert one.weights_bytes == sum(t.numel() * 4 for t in model.state_dict().values())


def test_refusal_names_the_size_it_needs():
    estimate = MemoryEstimate("decode", 2, (512, 512), 335 * 2**20, 3 * GB)
    with pytest.raises(MemoryRefused) as caught:
        check_fits(estimate, budget_bytes=2 * GB)
    message = str(caught.value)
    assert "needs about 3.0 GB" in message and "2.0 GB is available" in message and "512x512" in message
    assert caught.value.needed_bytes == 3 * GB and caught.value.available_bytes == 2 * GB
    with pytest.raises(MemoryRefused, match="3.3 GB"):  # weights not loaded yet count too
        check_fits(estimate, budget_bytes=3 * GB, weights_loaded=False)
    check_fits(estimate, budget_bytes=3 * GB)


def test_bad_requests_name_the_problem():
    with pytest.raises(ValueError, match="part must be one of"):
        autoencoder_kl_activation_bytes(SD, "sample", 1, (64, 64))
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        autoencoder_kl_activation_bytes(SD, "decode", 0, (64, 64))
    with pytest.raises(ValueError, match="positive number of GB"):
        bytes_from_gb(-1)


def test_largest_batch_and_available_memory():
    per_item = lambda n: MemoryEstimate("decode", n, (8, 8), 0, n * 100)  # noqa: E731
    assert largest_batch(per_item, 1050, 64) == 10
    assert largest_batch(per_item, 1050, 4) == 4
    assert largest_batch(per_item, 50, 64) == 0
    assert 0 < available_bytes("cpu")
    assert format_bytes(6 * GB) == "6.0 GB" and format_bytes(300 * 2**20) == "300 MB"


@pytest.mark.slow
def test_estimate_within_30_percent_of_the_measured_peak():
    from bench.bench_memory_estimate import measure

    r = measure("small", "decode", 128)
    assert abs(r["estimated"] / r["measured"] - 1) <= 0.30, r


def test_a_part_weighs_the_weights_it_runs(tmp_path):
    from explorer.models.foreign.diffusers_kl import load_diffusers_kl
    from explorer.runtime.memory import part_parameter_bytes, parameter_bytes

    _tiny_kl().save_pretrained(tmp_path / "kl")
    model = load_diffusers_kl(tmp_path / "kl")
    vae = model.vae
    assert part_parameter_bytes(model, "decode") == parameter_bytes(vae.decoder) + parameter_bytes(vae.post_quant_conv)
    assert part_parameter_bytes(model, "encode") == parameter_bytes(vae.encoder) + parameter_bytes(vae.quant_conv)
    with pytest.raises(ValueError, match="part must be one of"):
        part_parameter_bytes(model, "sample")
