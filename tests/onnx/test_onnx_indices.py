"""Decode from indices as ONNX (the page's grid editor): for a one- and a two-level VQ-VAE, FSQ, an ONNX index pair
and a diffusers VQModel, onnxruntime on the flat index input gives the model's own `decode_indices` of the same
indices (not only on the probe it was traced on); the codebook lookup is a Gather inside the graph; the cache keeps
the file as indices.onnx; a model without a discrete code is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.models import build_model
from explorer.onnx.discrete import export_discrete_pair, flat_indices
from explorer.onnx.export import ExportFailure, exported_indices_decoder

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

TINY = dict(input_shape=(1, 16, 16), channels=(8, 16), res_blocks=1)


def _random_indices(model, n: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, lv.codebook_size, (n, *lv.grid), generator=gen) for lv in model.code_levels()]


def _check_against_torch(model, tmp_path, digest: str) -> None:
    got = exported_indices_decoder(model.eval(), digest, tmp_path)
    assert not isinstance(got, ExportFailure), got
    assert got.path.name == "indices.onnx" and got.info.input_names == ["indices"]
    session = ort.InferenceSession(str(got.path), providers=["CPUExecutionProvider"])
    indices = _random_indices(model, 4, seed=7)
    assert session.get_inputs()[0].type == "tensor(int64)"
    images = session.run(None, {"indices": flat_indices(indices)})[0]
    expected = model.decode_indices(indices).numpy()
    assert images.shape == expected.shape and float(images.min()) >= 0 and float(images.max()) <= 1
    np.testing.assert_allclose(images, expected, atol=1e-5)
    assert not np.allclose(images[0], images[1])  # indices change the image: not a graph folded to a constant
    again = exported_indices_decoder(model, digest, tmp_path)
    assert again.status == "cached"


@pytest.mark.parametrize("family,config", [
    ("vqvae", dict(codebook_size=16, code_dim=4)),
    ("vqvae", dict(codebook_size=16, code_dim=4, two_level=True)),
    ("fsq", dict(levels=(4, 4, 3))),
], ids=["vq", "vq-two-level", "fsq"])
def test_the_index_decoder_equals_torch(family, config, tmp_path):
    torch.manual_seed(0)
    model = build_model(family, **TINY, **config)
    _check_against_torch(model, tmp_path, f"{family}-{len(model.code_levels())}")


def test_the_codebook_lookup_is_inside_the_graph(tmp_path):
    torch.manual_seed(0)
    model = build_model("vqvae", **TINY, codebook_size=16, code_dim=4).eval()
    got = exported_indices_decoder(model, "vq", tmp_path)
    ops = {node.op_type for node in onnx.load(str(got.path)).graph.node}
    assert "Gather" in ops


def test_an_onnx_index_pair_is_wrapped(tmp_path):
    from explorer.models.foreign import load_foreign

    torch.manual_seed(0)
    model = build_model("vqvae", **TINY, codebook_size=16, code_dim=4).eval()
    pair = load_foreign(export_discrete_pair(model, tmp_path / "pair"))
    got = exported_indices_decoder(pair, "pair", tmp_path / "cache")
    assert got.info.exporter == "wrapped"  # its own decoder graph, not a re-export
    _check_against_torch(pair, tmp_path / "cache", "pair")
    indices = _random_indices(model, 2, seed=1)
    session = ort.InferenceSession(str(got.path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"indices": flat_indices(indices)})[0],
                               model.decode_indices(indices).numpy(), atol=1e-5)


@pytest.mark.slow  # importing diffusers takes seconds
def test_a_diffusers_vqmodel(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    from explorer.models.foreign import load_foreign

    torch.manual_seed(0)
    diffusers.VQModel(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                      up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), layers_per_block=1,
                      latent_channels=4, num_vq_embeddings=32, norm_num_groups=4,
                      sample_size=16).eval().save_pretrained(str(tmp_path / "vq"), safe_serialization=True)
    _check_against_torch(load_foreign(tmp_path / "vq"), tmp_path / "cache", "vqmodel")


def test_a_model_without_a_discrete_code_is_refused(tmp_path):
    model = build_model("conv", input_shape=(1, 16, 16), latent_dim=2)
    with pytest.raises(ValueError, match="has no discrete code to decode from indices"):
        exported_indices_decoder(model, "conv", tmp_path)
