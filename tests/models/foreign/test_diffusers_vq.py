"""diffusers VQModel folders (a VQGAN-style and a MoVQ-style config, tiny and random): indices, decoding from them
against diffusers' own decode, and the messages for a folder without weights and an index outside the codebook."""

from __future__ import annotations

import pytest
import torch

from explorer.models.foreign import ForeignModelError, describe_model_path, load_foreign
from explorer.models.foreign.diffusers_vq import DiffusersVQVAE

diffusers = pytest.importorskip("diffusers")

TINY_VQ = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
               up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), layers_per_block=1,
               latent_channels=4, num_vq_embeddings=32, norm_num_groups=4, sample_size=16)
# diffusers' SpatialNorm groups by 32, so the MoVQ-style decoder needs widths that are multiples of 32
TINY_MOVQ = dict(TINY_VQ, norm_type="spatial", block_out_channels=(32, 32), norm_num_groups=8)


# the MoVQ-style model (widths of 32) is the slower one: slow-marked, so the default suite runs the VQGAN-style one
@pytest.fixture(scope="module", params=[TINY_VQ, pytest.param(TINY_MOVQ, marks=pytest.mark.slow)], ids=["vqgan", "movq"])
def pair(request, tmp_path_factory):
    torch.manual_seed(0)
    module = diffusers.VQModel(**request.param).eval()
    folder = tmp_path_factory.mktemp("vq")
    module.save_pretrained(str(folder), safe_serialization=True)
    return module, folder


def test_decode_from_indices_equals_diffusers_decode(pair):
    reference, folder = pair
    model = load_foreign(folder)
    assert isinstance(model, DiffusersVQVAE) and model.capabilities().code_kind == "discrete"
    (level,) = model.code_levels()
    assert (level.grid, level.stride, level.codebook_size, level.code_size) == ((8, 8), 2, 32, 4)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = reference.encode(x * 2 - 1).latents  # before quantisation
        expected = reference.decode(h).sample  # diffusers quantises, then decodes (MoVQ: with the quantised code)
        _, _, (_, _, flat) = reference.quantize(h)
    (indices,) = model.encode_indices(x)
    assert indices.shape == (2, 8, 8) and torch.equal(indices.reshape(-1), flat.reshape(-1))
    images = model.decode_indices(indices)
    assert torch.allclose(images, ((expected + 1) / 2).clamp(0, 1), atol=1e-5)
    assert torch.allclose(model.reconstruct(x), images, atol=1e-5)
    assert model.codebook().shape == (32, 4)
    assert "VQModel, 32 codes" in describe_model_path(folder)["summary"]


def test_an_index_outside_the_codebook_is_refused(pair):
    model = load_foreign(pair[1])
    indices = torch.zeros(1, 8, 8, dtype=torch.long)
    indices[0, 3, 4] = 32
    with pytest.raises(ValueError, match=r"code index 32 of level 'code' is outside its codebook: indices run 0\.\.31"):
        model.decode_indices(indices)
    with pytest.raises(ValueError, match="must be integers"):
        model.decode_indices(indices.float())


def test_a_folder_without_weights_is_named(pair, tmp_path):
    (tmp_path / "config.json").write_text((pair[1] / "config.json").read_text())
    with pytest.raises(ForeignModelError, match="diffusers VQModel folder without weights: "
                                                "diffusion_pytorch_model.safetensors is missing"):
        load_foreign(tmp_path)
