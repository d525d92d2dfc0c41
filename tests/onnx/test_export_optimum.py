"""Optimum's layout: vae_encoder/model.onnx and vae_decoder/model.onnx load in onnxruntime, agree with torch, carry
the latent shape, scaling, ranges and weights digest in metadata_props; the fp16 decoder stays within 2/255 of fp32 on
100 test codes of a shipped model (scripts/export_optimum.py checks every shipped model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.numpy import load_file

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.onnx.export import FP16_TOLERANCE, OPTIMUM_FILES, OPTIMUM_FP16, ExportInfo, export_optimum, read_metadata

SHIPPED = Path(__file__).resolve().parents[2] / "pretrained" / "conv-mnist5k"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = from_pretrained(SHIPPED)
    codes = load_file(str(SHIPPED / "analysis.safetensors"))["test_means"][:100]  # (100, 16) test codes
    out = export_optimum(model, tmp_path_factory.mktemp("optimum"), weights_digest(SHIPPED),
                         exporters=("torchscript",), check_codes=codes)  # the faster exporter keeps the test short
    return model, codes, out


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_the_layout_loads_in_onnxruntime_and_agrees_with_torch(exported):
    model, codes, out = exported
    assert all(isinstance(info, ExportInfo) for info in out.parts.values()), out.parts
    decoder, encoder = _session(out.folder / OPTIMUM_FILES["decoder"]), _session(out.folder / OPTIMUM_FILES["encoder"])
    assert [i.name for i in decoder.get_inputs()] == ["latent_sample"] and [o.name for o in decoder.get_outputs()] == ["sample"]
    sample = decoder.run(None, {"latent_sample": codes[:8]})[0]  # this model's code is its latent (scaling 1)
    with torch.no_grad():
        images = model.decode_code(torch.from_numpy(codes[:8])).numpy()  # (8, 1, 28, 28) in [0, 1]
        x = torch.rand(4, *model.config.input_shape, generator=torch.Generator().manual_seed(1))
        posterior = model.encode(x)
    np.testing.assert_allclose((sample + 1) / 2, images, atol=1e-5)
    params = encoder.run(None, {"sample": (x * 2 - 1).numpy()})[0]  # (4, 32): mean then log-variance
    np.testing.assert_allclose(params, torch.cat([posterior.mean, posterior.logvar], 1).numpy(), atol=1e-4)


def test_every_file_records_the_latent_space_in_its_metadata(exported):
    _, _, out = exported
    for path in (*[out.folder / f for f in OPTIMUM_FILES.values()], out.folder / OPTIMUM_FP16):
        meta = read_metadata(path)
        assert json.loads(meta["latent_shape"]) == [16] and json.loads(meta["image_shape"]) == [1, 28, 28]
        assert float(meta["scaling_factor"]) == 1.0 and float(meta["shift_factor"]) == 0.0
        assert meta["output_range"] == "[-1, 1]" and meta["weights_digest"] == weights_digest(SHIPPED)


def test_the_fp16_decoder_is_within_2_of_255_of_fp32_on_100_test_codes(exported):
    _, codes, out = exported
    assert out.fp16 == out.folder / OPTIMUM_FP16 and not out.fp16_problem
    full, half = _session(out.folder / OPTIMUM_FILES["decoder"]), _session(out.fp16)
    a = (full.run(None, {"latent_sample": codes})[0] + 1) / 2  # (100, 1, 28, 28) in [0, 1]
    b = (half.run(None, {"latent_sample": codes})[0] + 1) / 2
    assert len(codes) == 100 and float(np.abs(a - b).max()) <= FP16_TOLERANCE == 2 / 255
    assert out.fp16_max_abs_diff == pytest.approx(float(np.abs(a - b).max()), abs=1e-6)


def test_an_fp16_decoder_over_the_tolerance_is_not_kept_and_says_why(exported, tmp_path, monkeypatch):
    import explorer.onnx.export as export

    model, codes, _ = exported
    monkeypatch.setattr(export, "FP16_TOLERANCE", 0.0)  # any fp16 rounding is then too much
    out = export.export_optimum(model, tmp_path, "d" * 64, exporters=("torchscript",), check_codes=codes[:10])
    assert out.fp16 is None and not (tmp_path / OPTIMUM_FP16).exists()
    assert "differs from fp32 by" in out.fp16_problem and out.fp16_max_abs_diff > 0
    assert (tmp_path / OPTIMUM_FILES["decoder"]).is_file()  # the fp32 layout stays
