"""ONNX index pairs: a vqvae's pair gives the model's indices and decodes them as the model does; a pair whose JSON
declares discrete codes but whose decoder takes floats is refused by name; onnx_vae.json's 'code' is checked."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explorer.models import build_model
from explorer.models.foreign import ForeignModelError, load_foreign
from explorer.onnx.discrete import export_discrete_pair
from tests.support.foreign_models import torchscript_onnx_export

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 16, 16), channels=(8, 16), res_blocks=1, codebook_size=16,
                        code_dim=4).eval()
    return model, export_discrete_pair(model, tmp_path_factory.mktemp("pair"))


def test_the_pair_encodes_and_decodes_as_the_model(pair):
    model, folder = pair
    spec = json.loads((folder / "onnx_vae.json").read_text())
    assert spec["code"] == {"kind": "discrete", "codebook_size": 16, "grid": [4, 4], "stride": 4}
    loaded = load_foreign(folder)
    assert loaded.capabilities().code_kind == "discrete" and loaded.code_levels()[0].codebook_size == 16
    x = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    (indices,) = model.encode_indices(x)
    assert torch.equal(loaded.encode_indices(x)[0], indices)
    assert torch.allclose(loaded.decode_indices(indices), model.decode_indices(indices), atol=1e-5)
    with pytest.raises(ValueError, match=r"code index 99 of level 'code' is outside its codebook"):
        loaded.decode_indices(torch.full((1, 4, 4), 99))


class FloatDecoder(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, 4, 4) float -> (B, 1, 16, 16)
        return nn.functional.interpolate(z.unsqueeze(1), scale_factor=4.0)


def test_a_discrete_json_with_a_float_decoder_is_named(pair, tmp_path):
    _, folder = pair
    for name in ("encoder.onnx", "onnx_vae.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    torchscript_onnx_export(FloatDecoder(), torch.zeros(1, 4, 4), tmp_path / "decoder.onnx", input_names=["code"],
                            output_names=["image"], opset_version=18,
                            dynamic_axes={"code": {0: "batch"}, "image": {0: "batch"}})
    with pytest.raises(ForeignModelError, match=r"declares discrete codes, but this decoder's input 'code' has type "
                                                r"tensor\(float\): a discrete decoder takes integer code indices"):
        load_foreign(tmp_path)


def test_a_bad_code_entry_is_named(pair, tmp_path):
    _, folder = pair
    for name in ("encoder.onnx", "decoder.onnx"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    spec = json.loads((folder / "onnx_vae.json").read_text())
    spec["code"]["codebook_size"] = 0
    (tmp_path / "onnx_vae.json").write_text(json.dumps(spec))
    with pytest.raises(ForeignModelError, match="'code.codebook_size' must be a positive integer, got 0"):
        load_foreign(tmp_path)
