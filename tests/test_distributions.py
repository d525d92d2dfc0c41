import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from explorer.distributions import BernoulliLikelihood, DiagonalGaussian, GaussianLikelihood


def test_kl_matches_torch_distributions():
    mean, logvar = torch.randn(5, 7), torch.randn(5, 7)
    q = DiagonalGaussian(mean, logvar)
    expected = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(torch.zeros(5, 7), torch.ones(5, 7)))
    assert q.kl().shape == (5, 7)
    torch.testing.assert_close(q.kl(), expected)


def test_log_prob_matches_torch_normal():
    mean, logvar, z = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(DiagonalGaussian(mean, logvar).log_prob(z), Normal(mean, (0.5 * logvar).exp()).log_prob(z))


def test_logvar_is_clamped_and_sampling_follows_the_generator():
    q = DiagonalGaussian(torch.zeros(2, 3), torch.full((2, 3), 1e4))
    assert torch.isfinite(q.std).all()
    a = q.sample(torch.Generator().manual_seed(3))
    b = q.sample(torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bernoulli_log_prob_per_pixel():
    logits = torch.randn(2, 1, 4, 4)
    x = torch.randint(0, 2, (2, 1, 4, 4)).float()
    lik = BernoulliLikelihood(logits)
    torch.testing.assert_close(lik.log_prob(x), Bernoulli(logits=logits).log_prob(x))
    assert lik.mean.min() >= 0 and lik.mean.max() <= 1


def test_gaussian_log_prob_per_pixel():
    mean = torch.rand(2, 3, 4, 4)
    log_scale = torch.full((1, 3, 1, 1), -1.5)
    x = torch.rand(2, 3, 4, 4)
    expected = Normal(mean, log_scale.exp().expand_as(mean)).log_prob(x)
    torch.testing.assert_close(GaussianLikelihood(mean, log_scale).log_prob(x), expected)
