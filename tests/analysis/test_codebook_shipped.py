"""The shipped discrete models load, declare their code, and the usage figures of their cards are what a
recomputation over their test split gives (slow: each encodes its test split)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from explorer.analysis.codebook import encode_indices_all
from explorer.checkpoint import from_pretrained, read_config
from explorer.data import load_dataset, stack_images

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("vq-mnist5k", "fsq-mnist5k", "vq-shapes", "fsq-shapes")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_card_usage_matches_a_recomputation(name):
    folder = ROOT / "pretrained" / name
    torch.set_num_threads(1)
    model = from_pretrained(folder).eval()
    assert model.capabilities().code_kind == "discrete"
    (level,) = model.code_levels()
    metrics = json.loads((folder / "metrics.json").read_text())
    meta = read_config(folder)["dataset"]
    images, _ = stack_images(load_dataset(meta["name"], **meta.get("options", {})).test)
    counts = np.bincount(encode_indices_all(model, images)[0].ravel(), minlength=level.codebook_size)
    assert metrics["codes_used"] == int((counts > 0).sum())
    assert metrics["perplexity"] == pytest.approx(math.exp(scipy.stats.entropy(counts)), rel=1e-6)
    card = (folder / "README.md").read_text()
    assert f"| codes_used: {metrics['metric_descriptions']['codes_used']} | {metrics['codes_used']} |" in card


def test_the_vq_card_meets_its_usage_target_and_gives_the_figure_without_replacement():
    """The VQ-VAE with dead-code replacement uses at least 80% of its 512 codes over the test split, and its card
    gives the same recipe's figure without replacement (the FSQ models miss their 95% target: docs/discrete.md)."""
    vq = json.loads((ROOT / "pretrained" / "vq-mnist5k" / "metrics.json").read_text())
    assert vq["codebook_size"] == 512 and vq["codes_used_share"] >= 0.80
    assert vq["codes_used_without_replacement"] < vq["codes_used"]
    card = (ROOT / "pretrained" / "vq-mnist5k" / "README.md").read_text()
    assert f"uses **{vq['codes_used_without_replacement']} of 512** codes" in card
