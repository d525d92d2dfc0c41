"""The shipped pretrained/cvae-mnist5k: codes of test items written as another class read as that class to an
independent classifier, its test ELBO is no worse than the plain conv model's trained with the same command
(the comparison recorded in its folder), and its code has active units."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

FOLDER = Path(__file__).resolve().parents[3] / "pretrained" / "cvae-mnist5k"
pytestmark = pytest.mark.skipif(not (FOLDER / "config.json").is_file(), reason="pretrained/cvae-mnist5k is not here")


@pytest.mark.slow
def test_codes_written_as_class_c_read_as_c():
    from explorer.analysis.class_transfer import class_transfer_shares, train_digit_reader
    from explorer.checkpoint import from_pretrained
    from explorer.data.embedded import load_mnist5k

    data = load_mnist5k()
    test_x, test_y = data.test.images.float().div(255), data.test.labels  # (500, 1, 28, 28), (500,)
    reader = train_digit_reader(data.train.images.float().div(255), data.train.labels)  # a small CNN, trained here
    with torch.inference_mode():
        assert (reader(test_x).argmax(1) == test_y).float().mean() > 0.95  # it reads real digits
        model = from_pretrained(FOLDER, device="cpu").eval()
        shares = class_transfer_shares(model, test_x, test_y, lambda images: reader(images).argmax(1))
    assert all(share >= 0.9 for share in shares.values()), {c: f"{v:.1%}" for c, v in shares.items()}


@pytest.mark.slow
def test_elbo_no_worse_than_the_plain_conv_and_active_units():
    metrics = json.loads((FOLDER / "metrics.json").read_text())
    comparison = json.loads((FOLDER / "comparison.json").read_text())
    conv = comparison["conv"]
    assert comparison["cvae"]["elbo_nats"] == pytest.approx(metrics["elbo_nats"])
    assert conv["epochs"] == json.loads((FOLDER / "config.json").read_text())["training"]["epochs"]
    def recipe(command: str) -> list[str]:  # the command but its family, output folder and maps
        words = command.split()
        return [w for i, w in enumerate(words) if w not in ("--model", "--out", "--maps")
                and words[i - 1] not in ("--model", "--out", "--maps")]

    assert recipe(conv["command"]) == recipe(comparison["cvae"]["command"])
    assert metrics["elbo_nats"] >= conv["elbo_nats"], (metrics["elbo_nats"], conv["elbo_nats"])
    assert metrics["active_units"] >= 2
    assert np.isfinite(metrics["iwae_nll_nats"])
