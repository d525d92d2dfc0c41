"""The vqvae family: shapes, indices and decode_indices, the two levels decoded alone, options, save/load, refusals."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models import build_model

TINY = dict(channels=(8, 16), res_blocks=1, codebook_size=16, code_dim=4)


def test_shapes_levels_and_indices_round_trip():
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 28, 28), **TINY).eval()
    assert model.capabilities().code_kind == "discrete"
    (level,) = model.code_levels()
    # two stride-2 kernel-4 convs then one residual block: r = 1 + 3 + 6 + 2 * 4 = 18, padding 1 + 2 + 4 = 7
    assert (level.grid, level.stride, level.code_size, level.codebook_size) == ((7, 7), 4, 4, 16)
    assert (level.receptive_field, level.offset) == (18, 7)
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    (indices,) = model.encode_indices(x)
    assert indices.shape == (3, 7, 7) and indices.dtype == torch.long
    # decode_indices looks the vectors up in the library's codebook: the same image as the encode path
    assert torch.allclose(model.decode_indices(indices), model.reconstruct(x), atol=1e-6)
    vectors = model.codebook()[indices].permute(0, 3, 1, 2)  # (B, code_dim, 7, 7), looked up here by hand
    assert torch.allclose(model.encode(x).mean, vectors, atol=1e-6)


def test_training_terms_are_per_sample_and_the_kl_is_log_k_per_cell():
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(3, 16, 16), **TINY)
    terms = model.loss_terms(torch.rand(5, 3, 16, 16))
    assert terms["nll"].shape == terms["commitment"].shape == (5,)
    assert torch.allclose(terms["kl_dims"].sum(1), torch.full((5,), 16 * math.log(16)))
    with pytest.raises(ValueError, match="no IWAE bound beyond its ELBO"):
        model.iwae_log_weights(torch.rand(1, 3, 16, 16), 4)


def test_two_levels_each_decode_alone():
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 16, 16), two_level=True, level_dropout=0.2, **TINY).eval()
    bottom, top = model.code_levels()
    assert (bottom.name, bottom.grid, top.name, top.grid, top.stride) == ("bottom", (4, 4), "top", (2, 2), 8)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    indices = model.encode_indices(x)
    both = model.decode_indices(indices)
    alone = [model.decode_indices(indices, levels=[i]) for i in (0, 1)]
    assert all(a.shape == both.shape for a in alone)
    assert not torch.allclose(alone[0], both) and not torch.allclose(alone[1], both)
    # the bottom level alone is the decode of its vectors with the top's set to zero
    z = model.encode(x).mean.clone()
    z[:, TINY["code_dim"]:] = 0
    assert torch.allclose(alone[0], model.decode(z).mean, atol=1e-6)
    with pytest.raises(ValueError, match=r"levels \[2\] do not exist"):
        model.decode_indices(indices, levels=[2])


def test_options_reach_the_library_and_survive_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 16, 16), kmeans_init=True, dead_code_threshold=2.0, **TINY)
    # k-means pending until the first batch; dead codes replaced under an EMA cluster size of 2
    assert not bool(model.vq._codebook.initted) and model.vq._codebook.threshold_ema_dead_code == 2.0
    model.loss_terms(torch.rand(8, 1, 16, 16))  # the first training pass runs k-means
    assert bool(model.vq._codebook.initted)
    save_pretrained(model, tmp_path)
    loaded = from_pretrained(tmp_path)
    assert torch.equal(loaded.codebook(), model.codebook())


def test_bad_indices_and_options_are_named():
    model = build_model("vqvae", input_shape=(1, 16, 16), **TINY)
    with pytest.raises(ValueError, match=r"code index 16 of level 'code' is outside its codebook: indices run 0\.\.15"):
        model.decode_indices(torch.full((1, 4, 4), 16))
    with pytest.raises(ValueError, match=r"code index -1 of level 'code'"):
        model.decode_indices(torch.full((1, 4, 4), -1))
    with pytest.raises(ValueError, match=r"must have shape \(B, h, w\)"):
        model.decode_indices(torch.zeros(16, dtype=torch.long))
    with pytest.raises(ValueError, match="level_dropout needs two_level"):
        build_model("vqvae", input_shape=(1, 16, 16), level_dropout=0.1)
    with pytest.raises(ValueError, match=r"multiple of 2\^len\(channels\) = 4"):
        build_model("vqvae", input_shape=(1, 18, 18), channels=(8, 16))
