"""The diffusers AutoencoderKL adapter agrees with diffusers' own encode / decode and scaling."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from explorer.distributions import GaussianLikelihood
from explorer.models.foreign import ForeignModelError, load_foreign
from explorer.models.foreign.diffusers_kl import DiffusersKLVAE, load_diffusers_kl
from tests.support.foreign_models import KL_SCALING, KL_SHIFT

AutoencoderKL = pytest.importorskip("diffusers").AutoencoderKL  # diffusers is optional


@pytest.fixture(scope="module")
def pair(kl_folder):
    reference = AutoencoderKL.from_pretrained(str(kl_folder), use_safetensors=True, low_cpu_mem_usage=False).eval()
    return load_diffusers_kl(kl_folder), reference


def test_config_shapes_and_capabilities(pair):
    model, _ = pair
    assert isinstance(model, DiffusersKLVAE)
    assert model.config.input_shape == (3, 16, 16) and model.latent_shape == (3, 8, 8)
    assert model.config.latent_dim == 3 * 8 * 8 and model.config.likelihood == "gaussian"
    assert model.config.scaling_factor == KL_SCALING and model.config.shift_factor == KL_SHIFT
    assert model.code_scaling() == (KL_SCALING, KL_SHIFT)  # what a latent file records
    caps = model.capabilities()
    assert not caps.trainable and caps.spatial_code
    assert model.code_name == "scaled posterior mean" and model.device.type == "cpu"
    assert "sigma = 0.1" in model.likelihood_description()


def test_decode_code_equals_diffusers(pair):
    model, reference = pair
    code = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ((reference.decode(code / KL_SCALING + KL_SHIFT).sample + 1) / 2).clamp(0, 1)
        torch.testing.assert_close(model.decode_code(code), expected, rtol=0, atol=1e-6)


def test_encode_code_and_posterior_equal_diffusers(pair):
    model, reference = pair
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        dist = reference.encode(x * 2 - 1).latent_dist
        torch.testing.assert_close(model.encode_code(x), (dist.mean - KL_SHIFT) * KL_SCALING, rtol=0, atol=1e-6)
        posterior = model.encode(x)  # unscaled: KL and ELBO are the trained VAE's
        torch.testing.assert_close(posterior.mean, dist.mean, rtol=0, atol=1e-6)
        torch.testing.assert_close(posterior.logvar, dist.logvar, rtol=0, atol=1e-6)
        code = torch.randn(1, 3, 8, 8)
        torch.testing.assert_close(model.code_from_latent(model.latent_from_code(code)), code)


def test_gaussian_likelihood_is_unclamped_with_stated_scale(pair):
    model, reference = pair
    z = 3 * torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        likelihood = model.decode(z)
        raw = (reference.decode(z).sample + 1) / 2
    assert isinstance(likelihood, GaussianLikelihood)
    x = torch.rand(1, 3, 16, 16)
    expected = -0.5 * math.log(2 * math.pi) - math.log(0.1) - 0.5 * ((x - raw) / 0.1) ** 2
    torch.testing.assert_close(likelihood.log_prob(x), expected, rtol=1e-5, atol=1e-4)
    assert likelihood.mean.min() >= 0 and likelihood.mean.max() <= 1


def test_image_size_option(kl_folder):
    model = load_foreign(kl_folder, image_size=32)
    assert model.config.input_shape == (3, 32, 32) and model.latent_shape == (3, 16, 16)
    assert model.sample(1, torch.Generator().manual_seed(0)).shape == (1, 3, 32, 32)
    with pytest.raises(ForeignModelError, match="not a multiple of the downsampling factor 2"):
        load_foreign(kl_folder, image_size=15)


def test_folder_without_weights_is_refused(kl_folder, tmp_path):
    folder = tmp_path / "no_weights"
    folder.mkdir()
    shutil.copy(kl_folder / "config.json", folder / "config.json")
    with pytest.raises(ForeignModelError, match="without weights: diffusion_pytorch_model.safetensors is missing"):
        load_foreign(folder)
    (folder / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickled")
    with pytest.raises(ForeignModelError, match="only pickled .bin weights.*safe_serialization=True"):
        load_foreign(folder)


def test_other_diffusers_class_is_refused(kl_folder, tmp_path):
    folder = tmp_path / "tiny_ae"
    shutil.copytree(kl_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "_class_name": "AutoencoderKLTemporalDecoder"}))
    with pytest.raises(ForeignModelError, match="'AutoencoderKLTemporalDecoder'; only AutoencoderKL, AutoencoderTiny, "
                                                "AutoencoderDC, VQModel folders are supported"):
        load_foreign(folder)


def test_torn_weights_are_reported(kl_folder, tmp_path):
    folder = tmp_path / "torn"
    shutil.copytree(kl_folder, folder)
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ForeignModelError, match="diffusers could not load this AutoencoderKL"):
        load_foreign(folder)


def test_from_config_reloads_from_source(pair):
    model, _ = pair
    again = DiffusersKLVAE.from_config(model.config)
    code = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(again.decode_code(code), model.decode_code(code))


def test_takes_any_multiple_of_its_factor_at_its_own_size(pair):
    model, reference = pair
    assert model.capabilities().size_multiple == 2  # 16 px in, an 8x8 latent
    x = torch.rand(1, 3, 12, 20)  # not the config's 16 x 16: encoded and decoded at its own size
    with torch.no_grad():
        code = model.encode_code(x)
        assert code.shape == (1, 3, 6, 10)
        assert model.decode_code(code).shape == (1, 3, 12, 20)


def test_folder_with_latents_mean_and_std(kl_folder, tmp_path):
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
