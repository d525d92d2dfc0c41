"""The posterior-collapse verdict of metrics.json: fires on a total KL under ln 10 or on too few informative or
active dimensions, and stays silent for every shipped model."""

import json
import math
from pathlib import Path

import pytest
import torch

from explorer.analysis.collapse import COLLAPSE_TOTAL_KL_NATS, collapse_verdict
from explorer.run_folder import beta_prunes
from explorer.analysis.evaluation import evaluate
from explorer.checkpoint import read_config
from explorer.models import build_model, get_model_class

from tests.support.tinydata import make_split

PRETRAINED = sorted(p.parent for p in (Path(__file__).resolve().parents[2] / "pretrained").glob("*/metrics.json"))


def test_the_threshold_is_ln_10():
    assert COLLAPSE_TOTAL_KL_NATS == pytest.approx(math.log(10))


def test_a_small_total_kl_collapses_even_with_every_unit_active():
    # the README's first example at 3 epochs: 1.02 nats over 10 "active" units
    v = collapse_verdict(1.02, [0.02, 0.14, 0.1, 0.12, 0.08, 0.1, 0.11, 0.13, 0.1, 0.12], n_active=10)
    assert v["collapsed"] and "under ln 10" in v["reasons"][0] and v["active_units"] == 10
    assert any("free bits" in r for r in v["remedies"]) and any("warm-up" in r for r in v["remedies"])


def test_fewer_than_half_informative_or_active_dimensions_collapse_a_vector_code():
    few_informative = collapse_verdict(20.0, [10.0, 10.0, 0.0, 0.0, 0.0], n_active=5)
    assert few_informative["collapsed"] and few_informative["informative_dims"] == 2
    few_active = collapse_verdict(20.0, [4.0] * 5, n_active=2)
    assert few_active["collapsed"] and "2 of 5 units are active" in few_active["reasons"][0]


def test_a_spatial_code_is_judged_by_its_total_kl_and_active_units_only():
    sparse = [1.0] * 10 + [0.0] * 90  # most positions of a C x H x W map unused by design
    assert not collapse_verdict(10.0, sparse, n_active=10, spatial=True)["collapsed"]
    assert collapse_verdict(10.0, sparse, n_active=0, spatial=True)["collapsed"]
    assert collapse_verdict(1.0, sparse, n_active=10, spatial=True)["collapsed"]


def test_a_healthy_code_is_silent():
    v = collapse_verdict(20.0, [2.0] * 10, n_active=10)
    assert not v["collapsed"] and v["reasons"] == [] and v["remedies"] == []


@pytest.mark.parametrize("folder", PRETRAINED, ids=[p.name for p in PRETRAINED])
def test_every_shipped_model_is_silent(folder):
    metrics = json.loads((folder / "metrics.json").read_text())
    saved = read_config(folder)
    cls = get_model_class(saved["family"])
    caps = cls(cls.config_class.from_dict(saved["config"])).capabilities()
    kl = metrics.get("kl_code_nats", metrics["kl_nats"])  # the code's KL, without the pu's location terms
    pruning = caps.pruning_objective or beta_prunes(saved.get("training"))  # beta-TCVAE switches dimensions off
    verdict = collapse_verdict(kl, metrics["kl_per_dim"], metrics["active_units"], spatial=caps.code_kind != "vector",
                               pruning_objective=pruning)
    assert not verdict["collapsed"], verdict["reasons"]
    if "collapse" in metrics:  # written by evaluations after this verdict existed
        assert not metrics["collapse"]["collapsed"]


def test_evaluate_writes_the_verdict():
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,)).eval()
    metrics, _ = evaluate(model, make_split(8, 16).test, "bernoulli", iwae_k=2)
    v = metrics["collapse"]
    assert v["latent_dims"] == 3 and v["active_units"] == metrics["active_units"]
    assert v["kl_nats"] == pytest.approx(sum(metrics["kl_per_dim"]), abs=1e-3)
    assert v["collapsed"] == (v["kl_nats"] < COLLAPSE_TOTAL_KL_NATS or bool(v["reasons"]))


def test_an_objective_that_prunes_dimensions_keeps_only_the_total_kl_test():
    """beta-TCVAE on dSprites keeps about 4 of 10 dimensions: that is what it is for, not a collapse."""
    four_of_ten = [2.5, 2.4, 2.3, 2.4] + [0.01] * 6
    assert collapse_verdict(9.6, four_of_ten, n_active=4)["collapsed"]
    assert not collapse_verdict(9.6, four_of_ten, n_active=4, pruning_objective=True)["collapsed"]
    assert collapse_verdict(1.5, [0.3] * 5 + [0.0] * 5, n_active=4, pruning_objective=True)["collapsed"]  # ln 10


def test_pruning_objectives_are_declared_by_the_family_or_the_runs_beta():
    from explorer.models.registry import family_capabilities
    from explorer.run_folder import beta_prunes

    assert family_capabilities("tcvae", {"input_shape": [1, 8, 8], "latent_dim": 2, "tc_weight": 6.0}).pruning_objective
    assert not family_capabilities("tcvae", {"input_shape": [1, 8, 8], "latent_dim": 2, "tc_weight": 1.0}).pruning_objective
    assert not family_capabilities("mlp", {"input_shape": [1, 8, 8], "latent_dim": 2}).pruning_objective
    assert beta_prunes({"beta": 4.0}) and not beta_prunes({"beta": 1.0}) and not beta_prunes(None)
