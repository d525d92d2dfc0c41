"""DrawPad's Python side without a browser: a released drawing is prepared as the page prepares it and encoded to
the posterior mean; the encoder the page gets encodes the same (the page side: tests/browser/test_live_draw.py
drives the same component code)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from explorer.images import prepare_digit
from explorer.notebook import DrawPad

MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "conv-mnist5k"


@pytest.fixture(scope="module")
def pad(tmp_path_factory):
    return DrawPad(MODEL, cache_dir=tmp_path_factory.mktemp("onnx"))


def a_one(side: int = 280) -> np.ndarray:
    raster = np.zeros((side, side), np.uint8)
    raster[50:230, 130:152] = 255  # a vertical stroke
    return raster


def test_release_encodes_the_drawing_to_the_posterior_mean(pad):
    raster = a_one()
    released = {"model_key": pad.data["model_key"], "side": 280, "raster_b64": base64.b64encode(raster.tobytes()).decode()}
    pad._message(pad, {"type": "set", "name": "released", "value": released}, [])
    prepared = prepare_digit(raster.astype(np.float32) / 255, 28, 28)
    np.testing.assert_allclose(pad.prepared, prepared)
    with torch.inference_mode():
        want = pad.model.encode(torch.from_numpy(prepared).reshape(1, 1, 28, 28)).mean[0].numpy()
    np.testing.assert_allclose(pad.code, want, atol=1e-5)
    assert pad.code.shape == pad.latent_shape == (16,)


def test_a_blank_drawing_keeps_the_code_and_says_so(pad):
    pad.released(a_one())
    before = pad.code.copy()
    assert pad.released(np.zeros((280, 280), np.uint8)) is None
    np.testing.assert_array_equal(pad.code, before)
    assert "blank" in pad.reason


def test_the_pages_encoder_gives_the_kernels_code(pad, monkeypatch):
    sent = []
    monkeypatch.setattr(pad, "send", lambda content, buffers=None: sent.append((content, buffers)))
    key = pad.data["parts"]["encoder_url"]
    pad._message(pad, {"type": "need", "keys": [key]}, [])
    session = ort.InferenceSession(bytes(sent[0][1][0]), providers=["CPUExecutionProvider"])
    code = pad.released(a_one())
    (out,) = session.run(None, {session.get_inputs()[0].name: pad.prepared.reshape(1, 1, 28, 28)})[:1]
    np.testing.assert_allclose(out.reshape(-1), code.reshape(-1), atol=1e-4)


def test_codes_give_the_map_its_pca_and_dots(pad, tmp_path):
    codes = np.random.default_rng(0).standard_normal((3000, 16))
    with_codes = DrawPad(pad.model, codes=codes, cache_dir=tmp_path)
    dots = np.frombuffer(base64.b64decode(with_codes.data["dots_b64"]), np.float32).reshape(-1, 2)
    assert dots.shape == (2000, 2)
    comps = np.asarray(with_codes.data["pca_components"])
    np.testing.assert_allclose(dots, (codes[:2000] - codes.mean(0)) @ comps.T, atol=1e-4)
    with pytest.raises(ValueError, match=r"codes must be \(N, 16\)"):
        DrawPad(pad.model, codes=np.zeros((5, 3)))
