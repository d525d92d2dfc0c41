import math

import pytest
import torch

from explorer.losses import BetaSchedule, bits_per_dim, kl_free_bits_per_dimension, kl_free_bits_per_sample, regularised_kl


def test_free_bits_per_dimension_floors_the_batch_mean():
    kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]], requires_grad=True)
    per_sample = kl_free_bits_per_dimension(kl, 0.5)
    # dimension 0 averages 0.2 < 0.5 -> floored; dimension 1 averages 3.0
    assert per_sample.mean().item() == pytest.approx(0.5 + 3.0)
    per_sample.sum().backward()
    assert kl.grad[:, 0].abs().sum() == 0  # no gradient pushes a floored dimension further down
    assert torch.all(kl.grad[:, 1] == 1)


def test_free_bits_per_sample_is_seed_001_floor():
    kl = torch.tensor([[0.1, 0.1], [1.0, 2.0]])
    assert kl_free_bits_per_sample(kl, 0.5).tolist() == pytest.approx([0.5, 3.0])


def test_regularised_kl_modes():
    kl = torch.rand(4, 3)
    torch.testing.assert_close(regularised_kl(kl, 0.0), kl.sum(1))
    torch.testing.assert_close(regularised_kl(kl, 1.0, "none"), kl.sum(1))
    with pytest.raises(ValueError, match="free-bits mode"):
        regularised_kl(kl, 1.0, "bogus")


def test_beta_schedules():
    assert BetaSchedule(2.0)(5) == 2.0
    linear = BetaSchedule(1.0, "linear", 10)
    assert [linear(s) for s in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]
    cyc = BetaSchedule(1.0, "cyclical", 10, ramp_fraction=0.5)
    assert [cyc(s) for s in (0, 2, 5, 9, 10, 12)] == pytest.approx([0.0, 0.4, 1.0, 1.0, 0.0, 0.4])
    with pytest.raises(ValueError):
        BetaSchedule(1.0, "weird", 3)(1)


def test_bits_per_dim_of_uniform_density_is_eight():
    # the uniform density on [0, 1] has log density 0: 8 bits per 8-bit dimension
    assert bits_per_dim(torch.tensor(0.0), 3072).item() == pytest.approx(8.0)
    assert bits_per_dim(torch.tensor(3072 * math.log(2)), 3072).item() == pytest.approx(9.0)
