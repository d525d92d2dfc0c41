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


def test_item_noise_depends_on_seed_epoch_and_index_only():
    from explorer.distributions import ItemNoise, rand_like, randn_like

    whole = ItemNoise(0, 3, [4, 9, 2, 7])
    eps, u = whole.randn((4, 5)), whole.rand((4, 2, 3))  # two successive draws of one step
    # the same items split over two "processes", in another order: each item draws the same rows
    first, second = ItemNoise(0, 3, [7, 4]), ItemNoise(0, 3, [9, 2])
    torch.testing.assert_close(first.randn((2, 5)), eps[[3, 0]], rtol=0, atol=0)
    torch.testing.assert_close(second.randn((2, 5)), eps[[1, 2]], rtol=0, atol=0)
    torch.testing.assert_close(rand_like(torch.empty(2, 2, 3), second), u[[1, 2]], rtol=0, atol=0)
    # another epoch, another seed, another index or the next draw of the step: other noise
    assert not torch.equal(ItemNoise(0, 4, [4]).randn((1, 5)), eps[:1])
    assert not torch.equal(ItemNoise(1, 3, [4]).randn((1, 5)), eps[:1])
    assert not torch.equal(eps[0, :3], u[0].flatten()[:3])
    draw = randn_like(torch.empty(4, 5, dtype=torch.float64), ItemNoise(0, 3, [4, 9, 2, 7]))
    assert draw.dtype == torch.float64 and torch.equal(draw.float(), eps)


def test_item_noise_is_standard_and_refuses_a_draw_that_is_not_per_item():
    import pytest

    from explorer.distributions import ItemNoise

    noise = ItemNoise(5, 0, range(2000))
    eps, u = noise.randn((2000, 50)), noise.rand((2000, 50))
    assert abs(float(eps.mean())) < 0.01 and abs(float(eps.std()) - 1) < 0.01
    assert abs(float(u.mean()) - 0.5) < 0.005 and 0 <= float(u.min()) and float(u.max()) < 1
    # neighbouring items are uncorrelated
    assert abs(float(torch.corrcoef(torch.stack([eps[:-1].flatten(), eps[1:].flatten()]))[0, 1])) < 0.01
    with pytest.raises(ValueError, match="one per item"):
        noise.randn((3, 50))


def test_posterior_and_binarisation_take_item_noise():
    from explorer.data.transforms import binarize, dequantize
    from explorer.distributions import ItemNoise

    q = DiagonalGaussian(torch.zeros(3, 4), torch.zeros(3, 4))
    torch.testing.assert_close(q.rsample(ItemNoise(0, 0, [1, 2, 3])), ItemNoise(0, 0, [1, 2, 3]).randn((3, 4)))
    x = torch.rand(3, 1, 4, 4)
    b = binarize(x, ItemNoise(0, 0, [1, 2, 3]))
    assert torch.equal(b, (ItemNoise(0, 0, [1, 2, 3]).rand(x.shape) < x).float())
    assert torch.equal(binarize(x[1:], ItemNoise(0, 0, [2, 3])), b[1:])
    d = dequantize(x, ItemNoise(0, 0, [1, 2, 3]))
    assert ((d * 256 - torch.round(x * 255)) >= 0).all() and ((d * 256 - torch.round(x * 255)) < 1).all()
