"""The IAF flow and posterior against independent references: autograd's Jacobian, the inverse, the bounds."""

from __future__ import annotations

import pytest
import torch

from explorer.analysis.evaluation import iwae_bound
from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.distributions import DiagonalGaussian, standard_normal_log_prob
from explorer.losses import regularised_kl
from explorer.models.base import posterior_kl
from explorer.distributions.iaf import IAF, MADE, IAFPosterior
from explorer.models.registry import build_model


def randomised(flow: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every weight a sizeable random value: the near-identity initialisation would make tests too easy."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
    return flow


def test_made_output_d_depends_only_on_earlier_inputs():
    for reverse in (False, True):
        made = randomised(MADE(5, 16, 3, reverse=reverse)).double()
        z, h = torch.randn(5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
        jac_m = torch.autograd.functional.jacobian(lambda v: made(v, h)[0], z)  # (D, D)
        jac_s = torch.autograd.functional.jacobian(lambda v: made(v, h)[1], z)
        order = made.degrees  # degree of each variable; output d may see inputs of smaller degree only
        allowed = order[:, None] > order[None, :]
        assert torch.all(jac_m[~allowed] == 0) and torch.all(jac_s[~allowed] == 0)
        assert torch.all(jac_m[allowed] != 0)  # and does see all of them


def test_log_det_equals_autograd_jacobian():
    torch.manual_seed(0)
    flow = randomised(IAF(dim=4, steps=3, hidden=16, context_dim=2)).double()
    z0, h = torch.randn(4, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v, h)[0], z0)  # (D, D) of z_T w.r.t. z_0
    _, log_det = flow(z0, h)
    torch.testing.assert_close(torch.linalg.slogdet(jac)[1], log_det.sum())

    # and through the posterior, in terms of eps: log|det dz_T/deps| = sum(logvar / 2 + log sigma)
    mean0, logvar = torch.randn(1, 4, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    q = IAFPosterior(mean0, logvar, h[None], flow)
    eps = torch.randn(1, 4, dtype=torch.float64)
    jac_eps = torch.autograd.functional.jacobian(lambda e: flow(mean0 + (0.5 * logvar).exp() * e, h[None])[0][0], eps)[:, 0]
    z = flow(mean0 + (0.5 * logvar).exp() * eps, h[None])[0]
    expected = standard_normal_log_prob(eps).sum() - torch.linalg.slogdet(jac_eps)[1]
    torch.testing.assert_close(q.log_prob(z.clone()).sum(), expected)  # through the inverse


def test_inverse_recovers_eps_and_log_prob_matches_the_cached_draw():
    torch.manual_seed(1)
    flow = randomised(IAF(dim=6, steps=4, hidden=24, context_dim=3), seed=1).double()
    z0, h = torch.randn(7, 6, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    zt, log_det = flow(z0, h)
    back, log_det_back = flow.inverse(zt, h)
    torch.testing.assert_close(back, z0)
    torch.testing.assert_close(log_det_back, log_det)

    q = IAFPosterior(torch.randn(7, 6, dtype=torch.float64), torch.randn(7, 6, dtype=torch.float64), h, flow)
    z = q.rsample(torch.Generator().manual_seed(0))
    torch.testing.assert_close(q.log_prob(z.clone()), q.log_prob(z))  # inverse vs cache, element-wise


def test_the_kl_estimate_is_unbiased_with_less_variance_than_log_q_minus_log_p():
    """kl_at at the cached draw (closed-form Gaussian KL + what the flow changes) against the plain one-draw
    estimate log q(z_T) - log p(z_T), over 20,000 draws of one posterior: the same mean, a smaller spread."""
    torch.manual_seed(0)
    flow = randomised(IAF(dim=6, steps=2, hidden=16, context_dim=3)).double()
    for p in flow.parameters():
        p.data.mul_(0.3)  # a flow that bends, not one that tears
    n = 20_000
    mean0 = torch.tensor([1.5, -0.5, 0.2, 2.0, 0.0, -1.0], dtype=torch.float64).expand(n, 6)
    logvar = torch.full((n, 6), -2.0, dtype=torch.float64)
    context = torch.randn(1, 3, dtype=torch.float64).expand(n, 3)
    posterior = IAFPosterior(mean0, logvar, context, flow)
    with torch.no_grad():
        z = posterior.rsample(torch.Generator().manual_seed(1))
        low = posterior.kl_at(z).sum(1)  # (n,)
        plain = (posterior.log_prob(z) - standard_normal_log_prob(z)).sum(1)  # the cached log q
        inverted = (posterior.log_prob(z.clone()) - standard_normal_log_prob(z)).sum(1)  # through the inverse
    assert posterior_kl(posterior, z).sum(1).equal(low)
    torch.testing.assert_close(inverted, plain, rtol=0, atol=1e-8)
    assert float(low.mean()) == pytest.approx(float(plain.mean()), abs=4 * float(plain.std()) / n ** 0.5)
    assert float(low.std()) < 0.5 * float(plain.std())
    # a z that is not the cached draw is scored through the inverse flow
    other = z.clone()
    torch.testing.assert_close(posterior.kl_at(other).sum(1), inverted)


def test_inverse_at_64_dimensions():
    flow = IAF(dim=64, steps=2, hidden=128, context_dim=8)
    z0, h = torch.randn(3, 64), torch.randn(3, 8)
    torch.testing.assert_close(flow.inverse(flow(z0, h)[0], h)[0], z0, atol=1e-4, rtol=1e-4)


def test_expand_draws_repeats_the_posterior():
    flow = randomised(IAF(dim=3, steps=2, hidden=8, context_dim=2))
    q = IAFPosterior(torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 2), flow)
    draws = q.expand_draws(5)
    z = draws.rsample(torch.Generator().manual_seed(0))
    assert z.shape == (2, 5, 3) and draws.log_prob(z).shape == (2, 5, 3)
    torch.testing.assert_close(draws.mean, q.mean.unsqueeze(1).expand(2, 5, 3))
    torch.testing.assert_close(draws.log_prob(z.clone()), draws.log_prob(z), atol=1e-5, rtol=1e-5)


def tiny(family: str, **kw):
    torch.manual_seed(0)
    extra = {"channels": (4, 8), "hidden_dim": 16} if family == "conv" else {"hidden_sizes": (16,)}
    return build_model(family, input_shape=(1, 8, 8), latent_dim=3, **extra, **kw)


@pytest.mark.parametrize("context_dim", [4, 0], ids=["context", "no-context"])
@pytest.mark.parametrize("family", ["conv", "mlp"])
def test_elbo_below_iwae_and_free_bits(family, context_dim):
    model = tiny(family, iaf_steps=2, iaf_hidden=16, context_dim=context_dim)
    randomised(model.flow)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)).bernoulli()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        posterior = model.encode(x)
        assert isinstance(posterior, IAFPosterior) and not posterior.has_analytic_kl
        elbos = []
        for _ in range(200):
            t = model.elbo_terms(x, gen)
            elbos.append(-(t["nll"] + t["kl_dims"].sum(1)))
        elbo = torch.stack(elbos).mean(0)
        iwae = iwae_bound(model, x, 200, gen)
    assert torch.all(elbo <= iwae + 0.05), (elbo, iwae)
    # the sampled KL per dimension (B, D) goes through free bits like the closed form
    terms = model.loss_terms(x, gen)
    assert terms["kl_dims"].shape == (6, 3)
    kl_dims = terms["kl_dims"]
    floor = float(kl_dims.detach().mean(0).median())  # some dimensions under it, some over
    floored = regularised_kl(kl_dims, free_bits=floor, mode="dimension")
    expected = sum(max(floor, float(kl_dims[:, d].detach().mean())) for d in range(kl_dims.shape[1]))  # a slow reference
    assert floored.shape == (6,) and float(floored.detach().mean()) == pytest.approx(expected, rel=1e-5)
    floored.mean().backward()  # the floored dimensions are constants; the others carry gradients
    assert model.flow.steps[0].made.out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["conv", "mlp"])
def test_codes_are_the_flow_at_eps_zero(family):
    model = tiny(family, iaf_steps=2, iaf_hidden=16, context_dim=4).eval()
    x = torch.rand(4, 1, 8, 8)
    assert model.code_name == "flow at ε = 0"
    with torch.no_grad():
        stats = model.to_stats(model.enc_fc(model.encoder(x)) if family == "conv" else model.encoder(x.flatten(1)))
        mean0, _, ctx = stats.split([3, 3, 4], dim=1)
        torch.testing.assert_close(model.encode_code(x), model.flow(mean0, ctx)[0])
        torch.testing.assert_close(model.reconstruct(x), model.decode(model.flow(mean0, ctx)[0]).mean)


@pytest.mark.parametrize("context_dim", [4, 0], ids=["context", "no-context"])
@pytest.mark.parametrize("family", ["conv", "mlp"])
def test_save_load_identical(family, context_dim, tmp_path):
    model = tiny(family, iaf_steps=3, iaf_hidden=16, context_dim=context_dim).eval()
    randomised(model.flow)
    folder = save_pretrained(model, tmp_path / f"{family}-{context_dim}")
    loaded = from_pretrained(folder)
    assert loaded.config == model.config
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded.encode_code(x), model.encode_code(x))
        a = model.iwae_log_weights(x, 4, torch.Generator().manual_seed(3))
        b = loaded.iwae_log_weights(x, 4, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("family", ["conv", "mlp"])
def test_zero_steps_is_the_plain_model_bit_for_bit(family):
    plain = tiny(family)  # defaults: iaf_steps = 0
    explicit = tiny(family, iaf_steps=0, iaf_hidden=64, context_dim=16)
    assert plain.flow is None and plain.code_name == "posterior mean"
    assert list(plain.state_dict()) == list(explicit.state_dict())
    for k, v in plain.state_dict().items():
        assert torch.equal(v, explicit.state_dict()[k])
    x = torch.rand(3, 1, 8, 8)
    posterior = plain.encode(x)
    assert type(posterior) is DiagonalGaussian
    gen_a, gen_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    with torch.no_grad():
        assert torch.equal(plain.iwae_log_weights(x, 3, gen_a), explicit.iwae_log_weights(x, 3, gen_b))
    torch.testing.assert_close(posterior_kl(posterior, posterior.mean), posterior.kl().flatten(1))


def test_the_posterior_is_named_with_its_k_for_the_card():
    from explorer.card import render_card

    named = {k: tiny("conv", iaf_steps=k, iaf_hidden=16, context_dim=c).posterior_name for k, c in ((0, 4), (1, 0), (3, 4))}
    assert named[0] == "diagonal Gaussian (IAF steps k = 0)"
    assert "k = 1 inverse autoregressive flow step (IAF; MADE width 16, no context vector)" in named[1]
    assert "k = 3 inverse autoregressive flow steps (IAF; MADE width 16, context vector of 4" in named[3]
    card = render_card("m", "conv", {"name": "d"}, {}, {}, {"posterior": named[3], "train_seconds": 12.0}, "cmd")
    assert f"Posterior q(z | x): {named[3]}." in card.splitlines() and "Trained on ? in 12 s." in card
