"""AutoencoderTiny (TAESD) and AutoencoderDC folders: a plain latent, no posterior, on tiny random configs."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.models.foreign import ForeignModelError, describe_model_path, load_foreign
from explorer.models.foreign.diffusers_plain import PlainLatentVAE

diffusers = pytest.importorskip("diffusers")

TINY_TAESD = dict(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8), num_encoder_blocks=(1, 1),
                  num_decoder_blocks=(1, 1), latent_channels=4, shift_factor=0.25, scaling_factor=2.0)
TINY_DC = dict(in_channels=3, latent_channels=8, attention_head_dim=8,
               encoder_block_types=("ResBlock", "EfficientViTBlock"), decoder_block_types=("ResBlock", "EfficientViTBlock"),
               encoder_block_out_channels=(8, 16), decoder_block_out_channels=(8, 16),
               encoder_layers_per_block=(1, 1), decoder_layers_per_block=(1, 1),
               encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
               decoder_norm_types="rms_norm", decoder_act_fns="silu", scaling_factor=0.5)


def build(name: str, config: dict, folder):
    torch.manual_seed(0)
    module = getattr(diffusers, name)(**config).eval()
    module.save_pretrained(str(folder), safe_serialization=True)
    return module


@pytest.fixture(scope="module", params=[("AutoencoderTiny", TINY_TAESD), ("AutoencoderDC", TINY_DC)], ids=["tiny", "dc"])
def pair(request, tmp_path_factory):
    name, config = request.param
    folder = tmp_path_factory.mktemp(name)
    return build(name, config, folder), folder, name


def test_encode_decode_and_codes_equal_diffusers(pair):
    reference, folder, name = pair
    model = load_foreign(folder, image_size=16)
    assert isinstance(model, PlainLatentVAE) and model.config.diffusers_class == name
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = reference.encode(x * 2 - 1)
        z = out.latents if name == "AutoencoderTiny" else out.latent
        assert model.latent_shape == tuple(z.shape[1:])
        assert torch.equal(model.encode(x).mean, z)
        scale, shift = reference.config.scaling_factor, getattr(reference.config, "shift_factor", 0.0) or 0.0
        assert torch.allclose(model.encode_code(x), (z - shift) * scale)
        assert torch.allclose(model.decode(z).mean, ((reference.decode(z).sample + 1) / 2).clamp(0, 1), atol=1e-6)
        assert model.reconstruct(x).shape == x.shape
        drawn = model.sample(2, torch.Generator().manual_seed(3))
        code = torch.randn(2, *model.latent_shape, generator=torch.Generator().manual_seed(3))
        assert torch.equal(drawn, model.decode_code(code))


def test_no_posterior_is_declared_and_the_bounds_refuse(pair):
    model = load_foreign(pair[1], image_size=16)
    caps = model.capabilities()
    assert not caps.posterior and not caps.trainable and caps.spatial_code
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    for what, call in (("the ELBO", lambda: model.elbo_terms(x)), ("the IWAE bound", lambda: model.iwae_log_weights(x, 2)),
                       ("training's loss", lambda: model.loss_terms(x))):
        with pytest.raises(ValueError, match=f"{what}.* needs a posterior q\\(z \\| x\\).*plain latent"):
            call()
    with pytest.raises(ValueError, match="KL\\(q \\|\\| p\\) is undefined"):
        model.encode(x).kl()


def test_picker_summary(pair):
    entry = describe_model_path(pair[1])
    assert entry["kind"] == "diffusers" and entry["error"] is None
    assert entry["summary"].startswith(f"diffusers {pair[2]}") and "no posterior" in entry["summary"]


def test_image_size_must_fit_the_downsampling(pair):
    with pytest.raises(ForeignModelError, match="image size 17x17 is not a multiple of the downsampling factor 2"):
        load_foreign(pair[1], image_size=17)


def test_config_diffusers_cannot_build_is_refused(pair, tmp_path):
    _, folder, name = pair
    raw = json.loads((folder / "config.json").read_text())
    bad = {"num_encoder_blocks": [1, 1, 1]} if name == "AutoencoderTiny" else \
        {"encoder_block_types": ["NoSuchBlock", "EfficientViTBlock"]}
    (tmp_path / "config.json").write_text(json.dumps({**raw, **bad}))
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes((folder / "diffusion_pytorch_model.safetensors").read_bytes())
    with pytest.raises(ForeignModelError, match=f"config.json: diffusers cannot build a {name} from this config"):
        load_foreign(tmp_path)
