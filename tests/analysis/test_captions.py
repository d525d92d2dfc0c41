"""explorer.analysis.captions: caption and label metrics of any model that declares them, through the interface."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from explorer.analysis.captions import ATTRIBUTES, attribute_accuracy, caption_metrics, prediction_codes
from explorer.analysis.evaluation import scoring_inputs
from explorer.data.base import stack_images
from explorer.data.shapes import load_shapes, parse_caption
from explorer.distributions import DiagonalGaussian
from explorer.models import build_model, get_model_class
from explorer.models.base import VAE, Capabilities, VAEConfig
from explorer.text import bleu_scores, most_frequent_caption
from tests.support.tinydata import make_split

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained" / "pu-shapes"
CAPTION = "a small red circle in the center"


@dataclass
class ConstantConfig(VAEConfig):
    n_classes: int = 3
    answer: int = 1  # the class every code is given


class ConstantCaptioner(VAE):
    """Not registered: a family that captions every code with CAPTION and labels it `answer`, through the
    interface only (no pu internals)."""

    family = "test-constant"
    config_class = ConstantConfig

    def __init__(self, config: ConstantConfig):
        super().__init__(config)
        self.weight = nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[int, ...]] = []

    @classmethod
    def config_capabilities(cls, config: ConstantConfig) -> Capabilities:
        return Capabilities(captions=True, labels=True)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        zeros = torch.zeros(x.shape[0], self.config.latent_dim) + self.weight
        return DiagonalGaussian(zeros, zeros)

    def captions(self, code: Tensor, method: str = "sample", n: int = 1, **kw) -> list[str]:
        self.seen.append(tuple(code.shape))
        return [CAPTION] * code.shape[0]

    def label_probabilities(self, code: Tensor, n_draws: int = 1, generator: torch.Generator | None = None) -> Tensor:
        self.seen.append(tuple(code.shape))
        return nn.functional.one_hot(torch.full((code.shape[0],), self.config.answer), self.config.n_classes).float()


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(n_images=200, seed=3)  # 20 test images


def test_attribute_accuracy_counts_each_attribute_of_the_first_object():
    truth = [{"colour": "red", "shape": "circle", "size": "small", "position": "center"},
             {"colour": "blue", "shape": "square", "size": "large", "position": "top left"}]
    got = attribute_accuracy([CAPTION, "large blue blue square somewhere"], truth, parse_caption)
    assert got == {"attribute_acc_colour": 1.0, "attribute_acc_shape": 1.0, "attribute_acc_size": 1.0,
                   "attribute_acc_position": 0.5, "attribute_grammatical": 0.5}
    assert set(got) == {f"attribute_acc_{a}" for a in ATTRIBUTES} | {"attribute_grammatical"}


def test_any_model_declaring_captions_and_labels_is_scored_against_references_by_hand(shapes):
    model = ConstantCaptioner(ConstantConfig(input_shape=(3, 32, 32), latent_dim=4))
    metrics = caption_metrics(model, shapes, batch_size=8)
    assert all(len(s) == 2 for s in model.seen)  # prediction_draws 1: the posterior means (B, *latent_shape)
    test, n = shapes.test, len(shapes.test)
    refs = [test.references(i) for i in range(n)]
    labels = stack_images(test)[1]
    assert metrics["prediction_draws"] == 1 and metrics["caption_test_items"] == n
    assert metrics["label_accuracy"] == pytest.approx(float((labels == 1).float().mean()))
    assert metrics["bleu4"] == pytest.approx(bleu_scores([CAPTION] * n, refs)["bleu4"])
    baseline = most_frequent_caption(c for caps in shapes.train.captions if caps for c in caps)
    assert metrics["baseline_caption"] == baseline
    assert metrics["baseline_bleu4"] == pytest.approx(bleu_scores([baseline] * n, refs)["bleu4"])
    for a, value in zip(ATTRIBUTES, ("red", "circle", "small", "center")):
        share = sum(t[a] == value for t in test.attributes) / n
        assert metrics[f"attribute_acc_{a}"] == pytest.approx(share)
    assert metrics["attribute_grammatical"] == 1.0
    assert metrics["caption_examples"][0] == {"greedy": CAPTION, "reference": refs[0][0]}
    assert len(metrics["caption_examples"]) == 8


def test_a_model_declaring_neither_gets_no_metrics_and_uncaptioned_data_no_caption_metrics():
    data = make_split(shape=(1, 8, 8))
    assert caption_metrics(build_model("mlp", input_shape=(1, 8, 8), latent_dim=2, hidden_sizes=(8,)), data) == {}
    model = ConstantCaptioner(ConstantConfig(input_shape=(1, 8, 8), latent_dim=4, answer=2))
    metrics = caption_metrics(model, data)  # labels only: the test split has no references
    labels = stack_images(data.test)[1]
    assert set(metrics) == {"prediction_draws", "label_accuracy"}
    assert metrics["label_accuracy"] == pytest.approx(float((labels == 2).float().mean()))


def test_pu_predictions_average_its_declared_draws_with_a_seeded_generator(shapes):
    cls = get_model_class("pu")
    values = cls.adapt_config_to_data({"channels": (3, 4), "hidden_dim": 16, "embed_dim": 8, "code_feed_dim": 8,
                                       "eval_draws": 3, "max_caption_len": 6}, shapes)
    torch.manual_seed(0)
    model = cls(cls.config_class.from_dict(values)).train()
    metrics = caption_metrics(model, shapes, batch_size=7)
    assert model.training  # the mode is given back
    assert metrics["prediction_draws"] == 3
    for key in ("label_accuracy", "bleu1", "bleu4", "baseline_bleu4", *(f"attribute_acc_{a}" for a in ATTRIBUTES)):
        assert 0.0 <= metrics[key] <= 1.0, key
    # by hand: three draws per image from one seeded generator, batch after batch
    model.eval()
    x = scoring_inputs(stack_images(shapes.test)[0], "bernoulli")
    gen = torch.Generator().manual_seed(0)
    codes = [prediction_codes(model, x[i : i + 7], 3, gen) for i in range(0, len(x), 7)]
    assert codes[0].shape == (7, 3, *model.latent_shape)
    probs = torch.cat([model.label_probabilities(c) for c in codes])
    labels = stack_images(shapes.test)[1]
    assert metrics["label_accuracy"] == pytest.approx(float((probs.argmax(-1) == labels).float().mean()))
    greedy = [t for c in codes for t in model.captions(c, method="greedy")]
    assert [e["greedy"] for e in metrics["caption_examples"]] == greedy[:8]


def test_prediction_codes_are_the_mean_or_reparameterised_draws():
    model = build_model("conv", input_shape=(1, 8, 8), latent_dim=3, channels=(4, 4), hidden_dim=8).eval()
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(prediction_codes(model, x, 1), model.encode_code(x))
    q = model.encode(x)
    draws = prediction_codes(model, x, 4, torch.Generator().manual_seed(2))
    eps = torch.randn((5, 4, 3), generator=torch.Generator().manual_seed(2))
    assert torch.allclose(draws, q.mean.unsqueeze(1) + q.std.unsqueeze(1) * eps)


@pytest.mark.slow
def test_pretrained_pu_shapes_scores_as_before():
    """The shipped checkpoint, scored through the interface, gives the figures the model-side code gave
    (BLEU and attribute accuracy on the 1000 test images, 8 draws per prediction) and every key metrics.json has."""
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(PRETRAINED, device="cpu")
    metrics = caption_metrics(model, load_shapes())
    shipped = json.loads((PRETRAINED / "metrics.json").read_text())
    keys = {k for k in shipped if k.startswith(("bleu", "baseline", "attribute", "label_acc", "caption_", "prediction"))}
    assert keys == set(metrics)
    assert metrics["prediction_draws"] == 8 and metrics["caption_test_items"] == 1000
    assert metrics["baseline_caption"] == shipped["baseline_caption"]
    for key in ("baseline_bleu1", "baseline_bleu4"):
        assert metrics[key] == pytest.approx(shipped[key], abs=1e-9)
    before = {"label_accuracy": 0.95, "bleu1": 0.98935, "bleu4": 0.97191, "attribute_acc_colour": 0.991,
              "attribute_acc_shape": 0.94, "attribute_acc_size": 0.993, "attribute_acc_position": 1.0,
              "attribute_grammatical": 1.0}  # the removed PuVAE.extra_metrics on this checkpoint
    for key, value in before.items():
        assert metrics[key] == pytest.approx(value, abs=0.006), key
