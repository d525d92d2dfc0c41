"""The ONNX pair runs like the torch module it was exported from, and a bad folder is named with its problem."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explorer.distributions import BernoulliLikelihood
from explorer.models.foreign import ForeignModelError, load_foreign
from explorer.models.foreign.onnx_pair import OnnxPairVAE
from tests.support.foreign_models import ONNX_OPSET, _Half, copy_pair, onnx_reference


@pytest.fixture(scope="module")
def model(onnx_folder):
    return load_foreign(onnx_folder)


def test_loads_with_shapes_from_graph(model):
    assert isinstance(model, OnnxPairVAE)
    assert model.config.input_shape == (1, 28, 28) and model.latent_shape == (4,) and model.config.latent_dim == 4
    assert model.config.class_names == tuple(str(i) for i in range(10))
    assert not model.capabilities().trainable and not model.capabilities().spatial_code
    assert model.device.type == "cpu"


def test_onnxruntime_matches_torch(model, onnx_folder):
    net = onnx_reference(onnx_folder)
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))  # batch 5: the axis is dynamic
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        mean, logvar = net.encode(x)
        logits = net.decode(z)
    posterior = model.encode(x)
    likelihood = model.decode(z)
    assert isinstance(likelihood, BernoulliLikelihood)
    assert (posterior.mean - mean).abs().max() <= 1e-5
    assert (posterior.logvar - logvar).abs().max() <= 1e-5
    assert (likelihood.logits - logits).abs().max() <= 1e-5


def test_gaussian_in_minus_one_one(onnx_folder, tmp_path):
    """value_range [-1, 1]: the encoder sees 2x - 1, the decoder's output y becomes the mean (y + 1) / 2."""
    folder = copy_pair(onnx_folder, tmp_path, likelihood="gaussian", value_range=[-1, 1], sigma=0.2)
    model = load_foreign(folder)
    net = onnx_reference(onnx_folder)
    x = torch.rand(2, 1, 28, 28)
    z = torch.randn(2, 4)
    with torch.no_grad():
        assert (model.encode(x).mean - net.encode(2 * x - 1)[0]).abs().max() <= 1e-5
        expected = (net.decode(z) + 1) / 2
    likelihood = model.decode(z)
    assert (likelihood._mean - expected).abs().max() <= 1e-5
    assert torch.allclose(likelihood.log_scale.exp(), torch.tensor(0.2))
    assert "sigma = 0.2" in model.likelihood_description() and "[-1, 1]" in model.likelihood_description()


def test_decoder_size_disagreeing_with_json(onnx_folder, tmp_path):
    folder = copy_pair(onnx_folder, tmp_path, latent_shape=[5])
    with pytest.raises(ForeignModelError, match=r"decoder.onnx takes codes of size 4 .* onnx_vae.json gives latents of size 5"):
        load_foreign(folder)


def test_decoder_disagreeing_with_encoder(onnx_folder, tmp_path):
    folder = copy_pair(onnx_folder, tmp_path)
    wide = nn.Linear(6, 784)
    decoder = _Half(lambda z: wide(z).view(-1, 1, 28, 28)).eval()
    torch.onnx.export(decoder, (torch.randn(2, 6),), str(folder / "decoder.onnx"), opset_version=ONNX_OPSET,
                      dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},), external_data=False,
                      verbose=False)
    with pytest.raises(ForeignModelError, match=r"decoder.onnx takes codes of size 6 .* encoder.onnx gives latents of size 4"):
        load_foreign(folder)


@pytest.mark.parametrize("value_range", [[0, 255], [-1, 0], "unit"])
def test_wrong_value_range(onnx_folder, tmp_path, value_range):
    folder = copy_pair(onnx_folder, tmp_path, value_range=value_range)
    with pytest.raises(ForeignModelError, match=r"onnx_vae.json: 'value_range' must be \[0, 1\] or \[-1, 1\]"):
        load_foreign(folder)


def test_spec_errors_name_the_key(onnx_folder, tmp_path):
    folder = copy_pair(onnx_folder, tmp_path, likelihood="poisson")
    with pytest.raises(ForeignModelError, match="'likelihood' must be"):
        load_foreign(folder)
    (folder / "onnx_vae.json").write_text(json.dumps({"input_shape": [1, 28, 28], "likelihood": "bernoulli", "scale": 1}))
    with pytest.raises(ForeignModelError, match=r"unknown key\(s\) \['scale'\]"):
        load_foreign(folder)
    (folder / "onnx_vae.json").write_text(json.dumps({"input_shape": [1, 32, 32], "likelihood": "bernoulli"}))
    with pytest.raises(ForeignModelError, match=r"encoder.onnx reads images of shape \[1, 28, 28\]"):
        load_foreign(folder)


def test_missing_and_invalid_onnx_files(onnx_folder, tmp_path):
    folder = copy_pair(onnx_folder, tmp_path)
    (folder / "decoder.onnx").unlink()
    with pytest.raises(ForeignModelError, match="decoder.onnx is missing"):
        load_foreign(folder)
    (folder / "decoder.onnx").write_bytes(b"this is not protobuf")
    with pytest.raises(ForeignModelError, match="decoder.onnx is not a valid ONNX model"):
        load_foreign(folder)


def test_fixed_batch_graph_runs_in_chunks(onnx_folder, tmp_path):
    """A graph exported without a dynamic batch (batch 2 here) still takes any batch size."""
    folder = copy_pair(onnx_folder, tmp_path)
    net = onnx_reference(onnx_folder)
    torch.onnx.export(_Half(net.decode).eval(), (torch.randn(2, 4),), str(folder / "decoder.onnx"),
                      opset_version=ONNX_OPSET, external_data=False, verbose=False)
    model = load_foreign(folder)
    z = torch.randn(3, 4)
    with torch.no_grad():
        assert (model.decode(z).logits - net.decode(z)).abs().max() <= 1e-5
