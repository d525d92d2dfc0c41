import numpy as np
import pytest
import torch

from explorer.analysis.evaluation import active_units, evaluate, iwae_bound, percentile_of, scoring_inputs
from explorer.models import build_model

from tests.support.tinydata import make_split


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("mlp", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,)).eval()


def test_iwae_at_least_elbo_and_rises_with_k(model):
    x = scoring_inputs(torch.rand(32, 1, 8, 8), "bernoulli")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([-(model.loss_terms((x,), gen)["nll"] + model.loss_terms((x,), gen)["kl_dims"].sum(1)) for _ in range(1)]).mean(0)
        bounds = {k: torch.stack([iwae_bound(model, x, k, gen) for _ in range(20)]).mean(0) for k in (1, 10, 100)}
    # k = 1 is the ELBO in expectation; the bound rises with k on average
    assert bounds[1].mean() == pytest.approx(elbo.mean().item(), rel=0.02)
    assert bounds[10].mean() >= bounds[1].mean()
    assert bounds[100].mean() >= bounds[10].mean()
    assert (bounds[100] >= bounds[1] - 1e-3).float().mean() > 0.9


def test_evaluate_writes_every_term(model):
    data = make_split()
    metrics, arrays = evaluate(model, data.test, "bernoulli", iwae_k=20)
    assert metrics["test_items"] == 24 and metrics["latent_dims"] == 3
    assert metrics["iwae_nll_nats"] <= -metrics["elbo_nats"] + 1.0
    assert len(metrics["kl_per_dim"]) == 3
    assert arrays["test_means"].shape == (24, 3)
    np.testing.assert_allclose(arrays["score_elbo"], -(arrays["score_nll"] + arrays["score_kl"]), rtol=1e-5)
    assert "binarisation" in metrics["protocol"]


def test_gaussian_reports_bits_per_dim():
    model = build_model("conv", input_shape=(3, 8, 8), latent_dim=2, likelihood="gaussian", channels=(4,), hidden_dim=0).eval()
    metrics, _ = evaluate(model, make_split(shape=(3, 8, 8), likelihood="gaussian").test, "gaussian", iwae_k=5)
    assert metrics["iwae_bits_per_dim"] > 0 and "bits per dimension" in metrics["protocol"]


def test_scoring_inputs_are_fixed():
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(scoring_inputs(x, "bernoulli"), scoring_inputs(x, "bernoulli"))
    d = scoring_inputs(x, "gaussian")
    assert torch.equal(d, scoring_inputs(x, "gaussian"))
    assert (d >= 0).all() and (d <= 1).all()


def test_active_units_counts_varying_means():
    means = torch.zeros(100, 3)
    means[:, 0] = torch.randn(100)
    means[:, 1] = 0.01 * torch.randn(100)
    count, variances = active_units(means)
    assert count == 1 and variances.shape == (3,)


def test_percentile():
    assert percentile_of(5.0, np.arange(10.0)) == pytest.approx(60.0)
