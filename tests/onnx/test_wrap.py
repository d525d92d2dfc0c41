"""An ONNX pair's own graphs go to the page as they are: wrapped (a reshape in, the likelihood's display mean out),
never re-exported through torch, and equal to the model's own decode and encode."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from explorer.models.foreign import load_foreign
from explorer.onnx.export import WRAPPED, ExportFailure, _session, exported_decoder, exported_encoder
from tests.support.foreign_models import ONNX_OPSET, _Half, copy_pair, onnx_reference


def op_types(path) -> list[str]:
    return sorted(node.op_type for node in onnx.load(str(path)).graph.node)


@pytest.mark.parametrize("spec", [{}, {"likelihood": "gaussian", "value_range": [-1, 1], "sigma": 0.2}],
                         ids=["bernoulli", "gaussian-minus-one-one"])
def test_the_pairs_own_graphs_are_sent_wrapped_and_decode_as_the_model_does(onnx_folder, tmp_path, spec):
    model = load_foreign(copy_pair(onnx_folder, tmp_path, **spec))
    got = exported_decoder(model, "pair-digest", tmp_path / "cache")
    assert got.info.exporter == WRAPPED and got.info.input_names == ["code"] and got.info.output_names == ["image"]
    own = op_types(onnx_folder / "decoder.onnx")
    wrapped = op_types(got.path)
    assert all(wrapped.count(op) >= own.count(op) for op in set(own))  # every node of its own graph is there
    assert len(wrapped) - len(own) <= 6  # and only the wrapper's few around it
    codes = torch.randn(7, 4, generator=torch.Generator().manual_seed(3))  # batch 7: the axis stays dynamic
    image = _session(got.path).run(None, {"code": codes.numpy()})[0]
    assert image.shape == (7, 1, 28, 28)
    np.testing.assert_allclose(image, model.decode_code(codes).numpy(), atol=1e-5)
    # encoder: the image in [0, 1] mapped to the graph's range, its mean and log-variance flattened
    enc = exported_encoder(model, "pair-digest", tmp_path / "cache", with_logvar=True)
    assert enc.info.exporter == WRAPPED
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    code, logvar = _session(enc.path).run(None, {"image": x.numpy()})
    posterior = model.encode(x)
    np.testing.assert_allclose(code, posterior.mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, posterior.logvar.numpy(), atol=1e-5)
    again = exported_decoder(model, "pair-digest", tmp_path / "cache")
    assert again.status == "cached"  # its own opset is kept, and the cache still finds it


def test_a_fixed_batch_graph_is_not_wrapped_and_the_reason_is_one_line(onnx_folder, tmp_path):
    folder = copy_pair(onnx_folder, tmp_path)
    net = onnx_reference(onnx_folder)
    torch.onnx.export(_Half(net.decode).eval(), (torch.randn(2, 4),), str(folder / "decoder.onnx"),
                      opset_version=ONNX_OPSET, external_data=False, verbose=False)
    model = load_foreign(folder)
    got = exported_decoder(model, "fixed-digest", tmp_path / "cache", exporters=("torchscript",))
    assert isinstance(got, ExportFailure)  # torch cannot trace onnxruntime either: the page decodes on the server
    assert "fixed batch of 2" in got.message and "Traceback" not in got.message
