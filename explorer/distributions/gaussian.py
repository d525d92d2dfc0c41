"""The diagonal-Gaussian posterior and the pixel likelihoods shared by every model family.

All `log_prob` and `kl` methods keep the element-wise shape (no reduction), so the same call gives per-pixel
maps for the app and per-sample sums for training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2 * math.pi)

from explorer.distributions.noise import Noise, randn_like


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(logvar))); `mean` and `logvar` have shape (B, *latent_shape).

    It is the posterior every built-in family returns, and the reference for the `Posterior` protocol of
    explorer.models.base: `rsample`, `log_prob`, `mean`, and a closed-form `kl` declared by `has_analytic_kl`.
    """

    has_analytic_kl = True  # kl() is exact; a flow posterior (IAF) declares False and is scored by Monte Carlo

    def __init__(self, mean: Tensor, logvar: Tensor):
        self.mean = mean
        self.logvar = logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def mode(self) -> Tensor:
        return self.mean

    def sample(self, generator: Noise = None) -> Tensor:
        """Reparameterised draw z = mean + std * eps, differentiable in mean and logvar."""
        return self.mean + self.std * randn_like(self.mean, generator)

    def rsample(self, generator: Noise = None) -> Tensor:
        """The reparameterised draw under torch.distributions' name (same as `sample`)."""
        return self.sample(generator)

    def expand_draws(self, k: int) -> "DiagonalGaussian":
        """The same posterior repeated for k draws per item: shapes (B, k, *latent_shape)."""
        mean = self.mean.unsqueeze(1).expand(self.mean.shape[0], k, *self.mean.shape[1:])
        return DiagonalGaussian(mean, self.logvar.unsqueeze(1).expand_as(mean))

    def kl(self) -> Tensor:
        """KL(q || N(0, I)) per sample and per latent dimension, shape (B, *latent_shape)."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def kl_at(self, z: Tensor) -> Tensor:
        """The KL at a draw: the closed form, whatever z is (the `Posterior` protocol's estimate hook)."""
        return self.kl()

    def log_prob(self, z: Tensor) -> Tensor:
        """Element-wise log density of z (broadcast against the batch), shape of z."""
        return -0.5 * (LOG_2PI + self.logvar + (z - self.mean).pow(2) / self.logvar.exp())


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """Element-wise log N(z; 0, 1)."""
    return -0.5 * (LOG_2PI + z.pow(2))


class BernoulliLikelihood:
    """p(x|z) with independent Bernoulli pixels parameterised by logits, shape (B, C, H, W)."""

    kind = "bernoulli"

    def __init__(self, logits: Tensor):
        self.logits = logits

    @property
    def mean(self) -> Tensor:
        """Pixel probabilities in [0, 1]: the image to display."""
        return torch.sigmoid(self.logits)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x|z) per pixel (nats); x in [0, 1] (binary for a proper likelihood)."""
        return -F.binary_cross_entropy_with_logits(self.logits, x, reduction="none")

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(self.mean, generator=generator)


class GaussianLikelihood:
    """p(x|z) = N(mean, exp(log_scale)^2) per pixel, on dequantised data in [0, 1].

    `log_scale` broadcasts against the mean: a learned per-channel parameter or a fixed constant.
    """

    kind = "gaussian"

    def __init__(self, mean: Tensor, log_scale: Tensor):
        self._mean = mean
        self.log_scale = log_scale

    @property
    def mean(self) -> Tensor:
        return self._mean.clamp(0.0, 1.0)

    def log_prob(self, x: Tensor) -> Tensor:
        """Continuous log density per pixel of x in [0, 1] (nats)."""
        return -0.5 * LOG_2PI - self.log_scale - 0.5 * ((x - self._mean) / self.log_scale.exp()).pow(2)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return (self._mean + self.log_scale.exp() * randn_like(self._mean, generator)).clamp(0.0, 1.0)


Likelihood = BernoulliLikelihood | GaussianLikelihood
