"""The shipped pretrained/pu-shapes checkpoint loads into the package with its tensor names and gives the
codes, images, captions and labels it gave before the family became a package (figures pinned from then)."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from explorer.checkpoint import from_pretrained
from explorer.data.base import stack_images
from explorer.data.shapes import load_shapes

FOLDER = Path(__file__).resolve().parents[3] / "pretrained" / "pu-shapes"

GREEDY = [
    "at the top there is a large cyan triangle",
    "a small blue circle in the bottom left to the left of a large cyan triangle",
    "a large cyan triangle in the top left",
    "a small cyan circle at the bottom",
]
BEAM = [
    "at the top there is a large cyan triangle",
    "there is a large cyan triangle at the top",
    "there is a small blue circle in the bottom left to the left of a large cyan triangle",
    "a small blue circle in the bottom left to the left of a large cyan triangle",
]
LABELS = [2, 0, 2, 0, 0, 0, 0, 0, 1, 2, 1, 1, 2, 2, 2, 2]


@pytest.mark.slow
def test_pu_shapes_loads_and_predicts_as_before():
    assert json.loads((FOLDER / "config.json").read_text())["family"] == "pu"
    model = from_pretrained(FOLDER, device="cpu").eval()
    with safe_open(str(FOLDER / "model.safetensors"), "pt") as f:
        assert sorted(f.keys()) == sorted(model.state_dict())  # the weights' names did not change
    caps = model.capabilities()
    assert caps.captions and caps.labels and caps.spatial_code and caps.prediction_draws == 8
    x = stack_images(load_shapes().test, 16)[0]
    with torch.no_grad():
        codes = model.encode_code(x)
        assert float(codes.double().sum()) == pytest.approx(119.13227441982599, rel=1e-4)
        assert float(codes.double().abs().sum()) == pytest.approx(1173.6140839645523, rel=1e-5)
        assert float(model.reconstruct(x).double().sum()) == pytest.approx(1658.8427426371156, rel=1e-5)
        assert float(model.decode_code(codes).double().sum()) == pytest.approx(1641.9931706523544, rel=1e-5)
        assert model.captions(codes[:4], method="greedy") == GREEDY
        assert model.captions(codes[:2], method="beam", n=2) == BEAM
        assert model.label_probabilities(codes).argmax(-1).tolist() == LABELS
        terms = model.elbo_terms(x, torch.Generator().manual_seed(0))
    assert float(terms["nll"].double().sum()) == pytest.approx(839.5364837646484, rel=1e-4)
    assert float(terms["location_kl"].double().sum()) == pytest.approx(0.28186893463134766, rel=1e-3)
