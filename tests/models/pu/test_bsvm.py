"""explorer.models.pu.bsvm and the pu family's `label_head = "bsvm"`: the augmentation identity and the
inverse-Gaussian conditional against scipy, the EM surrogate against the hinge, a separable toy set, and the
head inside the model (loss term, scores, save -> load)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models.pu import bsvm
from explorer.models.pu.config import PuConfig
from tests.support.tinypu import tiny_batch, tiny_model

MARGINS = [-2.5, -0.3, 0.4, 0.95, 1.7, 3.0]  # u = y f(s): wrong side, inside the margin, outside it


def _augmented_density(lam: float, u: float) -> float:
    """The joint p(y, lambda | s) of Polson and Scott's augmentation, written out here independently."""
    return (2 * math.pi * lam) ** -0.5 * math.exp(-((1 + lam - u) ** 2) / (2 * lam))


@pytest.mark.parametrize("u", MARGINS)
def test_the_augmentation_integrates_to_the_hinge_pseudo_likelihood(u):
    value, _ = integrate.quad(_augmented_density, 0, np.inf, args=(u,))
    assert value == pytest.approx(math.exp(-2 * max(1 - u, 0)), rel=1e-6)


@pytest.mark.parametrize("u", MARGINS)
def test_the_conditional_of_one_over_lambda_is_inverse_gaussian_with_the_closed_form_mean(u):
    norm, _ = integrate.quad(_augmented_density, 0, np.inf, args=(u,))
    # density of w = 1 / lambda: p(lambda = 1/w) / w^2, normalised
    w = np.linspace(0.05, 6.0, 40)
    numeric = np.array([_augmented_density(1 / wi, u) / wi**2 for wi in w]) / norm
    mean = 1 / abs(1 - u)
    assert np.allclose(numeric, stats.invgauss(mu=mean, scale=1.0).pdf(w), rtol=1e-6, atol=1e-9)  # IG(mean, shape 1)
    first, _ = integrate.quad(lambda lam: _augmented_density(lam, u) / lam, 0, np.inf)
    closed = bsvm.expected_inverse_lambda(torch.tensor([[u]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64))
    assert float(closed) == pytest.approx(first / norm, rel=1e-6)
    lam = bsvm.lambda_update(torch.tensor([[u]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64))
    assert float(lam) == pytest.approx(1 / float(closed))  # the E-step: lambda = 1 / E[1 / lambda | u]


def test_at_the_fixed_point_the_surrogate_is_the_hinge_in_value_and_gradient():
    gen = torch.Generator().manual_seed(0)
    margins = (3 * torch.randn(64, 4, generator=gen, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, 4, (64,), generator=gen)
    targets = bsvm.one_vs_rest_targets(labels, 4).double()
    assert targets.shape == (64, 4) and torch.equal((targets == 1).float().argmax(1), labels)
    surrogate = bsvm.bsvm_label_loss(margins, labels)
    (g_surrogate,) = torch.autograd.grad(surrogate.sum(), margins)
    exact = bsvm.hinge(margins, targets)
    (g_hinge,) = torch.autograd.grad(exact.sum(), margins)
    assert surrogate.shape == (64,)
    assert torch.allclose(surrogate, exact, atol=1e-12) and torch.allclose(g_surrogate, g_hinge, atol=1e-12)
    # for any other lambda > 0 it is an upper bound (AM-GM): the M-step minimises a majoriser of the hinge
    other = torch.rand(64, 4, generator=gen, dtype=torch.float64) * 5 + 1e-3
    assert bool((bsvm.augmented_hinge(margins, targets, other) >= exact - 1e-12).all())


def test_the_crammer_singer_margin_and_its_surrogate():
    gen = torch.Generator().manual_seed(1)
    scores = (2 * torch.randn(32, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, 5, (32,), generator=gen)
    expected = torch.stack([scores[i, labels[i]] - max(scores[i, c] for c in range(5) if c != labels[i])
                            for i in range(32)])  # a loop, independent of the batched gather / mask
    margin = bsvm.crammer_singer_margin(scores, labels)
    assert margin.shape == (32, 1) and torch.allclose(margin[:, 0], expected)
    surrogate = bsvm.bsvm_label_loss(scores, labels, "crammer-singer")
    exact = 2 * (1 - expected).clamp_min(0)
    (g_surrogate,) = torch.autograd.grad(surrogate.sum(), scores)
    (g_exact,) = torch.autograd.grad(exact.sum(), scores)
    assert torch.allclose(surrogate, exact, atol=1e-12) and torch.allclose(g_surrogate, g_exact, atol=1e-12)
    with pytest.raises(ValueError, match="multiclass"):
        bsvm.bsvm_label_loss(scores, labels, "all-pairs")


def _blobs(n_per_class: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three linearly separable 2-D clusters (centres 4 apart, spread 0.5): (3N, 2) points, (3N,) labels."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 4.0], [-3.5, -2.0], [3.5, -2.0]], dtype=torch.float64)
    labels = torch.arange(3).repeat_interleave(n_per_class)
    return centres[labels] + 0.5 * torch.randn(len(labels), 2, generator=gen, dtype=torch.float64), labels


def test_em_with_the_closed_form_updates_separates_a_toy_set_and_never_raises_the_hinge():
    """Polson and Scott's EM for a linear SVM, written in the test: E-step lambda = |1 - u| (bsvm.lambda_update),
    M-step the weighted least squares that minimises the surrogate plus a small ridge, in closed form."""
    points, labels = _blobs()
    x = torch.cat([points, torch.ones(len(points), 1, dtype=torch.float64)], 1)  # (N, 3) with a bias column
    targets = bsvm.one_vs_rest_targets(labels, 3).double()  # (N, 3)
    beta = torch.zeros(3, 3, dtype=torch.float64)  # (features, classes)
    ridge = 1e-3
    objective = []
    for _ in range(30):
        margins = x @ beta
        objective.append(float(bsvm.hinge(margins, targets).sum() + ridge / 2 * beta.square().sum()))
        lam = bsvm.lambda_update(margins, targets, floor=1e-6)  # (N, 3)
        for c in range(3):  # d/dbeta of sum_n (1 - y f)^2 / (2 lam) + (1 - y f) + ridge/2 |beta|^2 = 0
            w = 1 / lam[:, c]
            y = targets[:, c]
            a = (x * w[:, None]).T @ x + ridge * torch.eye(3, dtype=torch.float64)
            beta[:, c] = torch.linalg.solve(a, x.T @ (y * (1 + lam[:, c]) * w))
    assert all(b <= a + 1e-6 for a, b in zip(objective, objective[1:]))  # MM: each step lowers the objective
    assert float(((x @ beta).argmax(1) == labels).double().mean()) == 1.0


@pytest.mark.parametrize("multiclass", bsvm.MULTICLASS)
def test_sgd_on_the_bsvm_loss_separates_the_toy_set(multiclass):
    points, labels = _blobs(seed=1)
    torch.manual_seed(0)
    head = torch.nn.Linear(2, 3).double()
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    for _ in range(60):
        opt.zero_grad()
        bsvm.bsvm_label_loss(head(points), labels, multiclass).mean().backward()
        opt.step()
    with torch.no_grad():
        margins = head(points)
        assert float((margins.argmax(1) == labels).double().mean()) == 1.0
        assert float(bsvm.bsvm_label_loss(margins, labels, multiclass).mean()) < 0.05


# -- the head inside the pu model -------------------------------------------------------------------
def test_config_refuses_an_unknown_head():
    with pytest.raises(ValueError, match="label_head"):
        PuConfig(label_head="svm")
    with pytest.raises(ValueError, match="bsvm_multiclass"):
        PuConfig(label_head="bsvm", bsvm_multiclass="pairs")
    assert PuConfig().label_head == "softmax"


@pytest.mark.parametrize("multiclass", bsvm.MULTICLASS)
def test_the_models_label_term_is_the_hinge_of_its_margins(multiclass):
    model = tiny_model(label_head="bsvm", label_weight=3.0, bsvm_multiclass=multiclass).train()
    x, labels, captions, counts = tiny_batch()
    gen = torch.Generator().manual_seed(0)
    terms = model.loss_terms((x, labels, captions, counts), gen)
    # the same draw of s again: the classifier's margins of the codes the loss used
    out = model(x, torch.Generator().manual_seed(0))
    margins = model.classifier(model.reader(out.z.flatten(1)))
    if multiclass == "one-vs-rest":
        exact = 3.0 * bsvm.hinge(margins, bsvm.one_vs_rest_targets(labels.clamp_min(0), 3))
    else:
        u = bsvm.crammer_singer_margin(margins, labels.clamp_min(0))
        exact = 3.0 * bsvm.hinge(u, torch.ones_like(u))
    has = labels >= 0
    label_term = terms["label_nll"]
    assert torch.allclose(label_term[has], exact[has], atol=1e-5) and float(label_term.detach()[~has].abs().sum()) == 0
    label_term.sum().backward()
    assert bool(model.classifier.weight.grad.abs().sum() > 0) and bool(model.code_head.weight.grad.abs().sum() > 0)


def test_scores_are_a_softmax_of_the_margins_and_survive_save_and_load(tmp_path):
    model = tiny_model(label_head="bsvm", label_hidden=5).eval()
    x = tiny_batch()[0]
    codes = model.encode(x).mean
    scores = model.label_probabilities(codes)
    margins = model.classifier(model.reader(codes.flatten(1)))
    assert scores.shape == (4, 3) and torch.allclose(scores.sum(1), torch.ones(4))
    assert torch.equal(scores.argmax(1), margins.argmax(1))  # the SVM's decision
    save_pretrained(model, tmp_path / "ck")
    loaded = from_pretrained(tmp_path / "ck").eval()
    assert loaded.config.label_head == "bsvm"
    assert torch.equal(model.predict_labels(x), loaded.predict_labels(x))
    assert torch.equal(model.label_probabilities(codes), loaded.label_probabilities(codes))


def _toy_images(n: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A separable image set for the tiny model: class c lights up channel c (with 10% pixel flips)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat(n // 3)
    x = torch.zeros(n, 3, 10, 11)
    x[torch.arange(n), labels] = 1.0
    flips = torch.rand(x.shape, generator=gen) < 0.1
    return torch.where(flips, 1 - x, x), labels


@pytest.mark.slow  # 60 steps of the tiny model: 5-10 s on a quiet 2-core machine
def test_the_bsvm_head_trained_in_the_vae_separates_a_toy_image_set():
    torch.manual_seed(0)
    model = tiny_model(label_head="bsvm", vocab_size=0, vocab_words=(), label_hidden=16, label_weight=10.0).train()
    x, labels = _toy_images()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        terms = model.loss_terms((x, labels), gen)
        loss = terms["nll"] + terms["kl_dims"].sum(1) + terms["loc_kl"] + terms["label_nll"]
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    model.eval()
    assert float((model.predict_labels(x, n_draws=4).argmax(1) == labels).float().mean()) == 1.0
