"""Posterior and likelihood objects shared by every model family.

All `log_prob` and `kl` methods keep the element-wise shape (no reduction), so the same call gives per-pixel
maps for the app and per-sample sums for training.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2 * math.pi)


class ItemNoise:
    """Noise keyed by data item: row i of every draw comes from item i's own counter-based stream.

    Draw k of a step (the binarisation, then the reparameterisation, ...) gives item i the numbers of NumPy's
    Philox (a counter-based generator, Salmon et al. 2011) keyed by (seed, epoch) from counter (0, k, 0, index),
    so an item's noise depends on (seed, epoch, index, k) and on nothing else: not on the batch it shares, its
    position there, or which process of a distributed run draws it. Pass it wherever the interface takes a
    `generator`: the draw helpers below accept it, and a family that draws only through them declares
    `Capabilities.item_keyed_noise`. The draws are made on the CPU (one small call per item, through one reused
    bit generator whose counter is set per item) and moved to the tensor's device; torch has no generator keyed
    per row, which is why this exists.
    """

    def __init__(self, seed: int, epoch: int, indices: Tensor | list[int]):
        self.indices = [int(i) for i in (indices.tolist() if isinstance(indices, Tensor) else indices)]
        self._key = np.array([int(seed) % 2**64, int(epoch) % 2**64], dtype=np.uint64)
        self._bits = np.random.Philox(key=self._key)
        self._fresh = self._bits.state  # empty output buffer: each item's draw starts at its own counter
        self._numbers = np.random.Generator(self._bits)
        self.draws = 0  # draws made so far in this step

    def __len__(self) -> int:
        return len(self.indices)

    def _rows(self, shape: torch.Size | tuple[int, ...], draw: str) -> np.ndarray:
        if len(shape) == 0 or shape[0] != len(self.indices):
            raise ValueError(f"item-keyed noise is drawn per item: a draw of shape {tuple(shape)} needs "
                             f"{len(self.indices)} rows, one per item of the batch")
        row, k = tuple(shape[1:]), self.draws
        self.draws += 1
        out = np.empty((len(self.indices), *row), dtype=np.float32)
        sample = getattr(self._numbers, draw)
        for n, index in enumerate(self.indices):
            # counter words low..high: (block, draw, 0, index); a draw would need 2**64 blocks to reach the next
            self._bits.state = {**self._fresh, "state": {"counter": np.array([0, k, 0, index], dtype=np.uint64),
                                                         "key": self._key}}
            out[n] = sample(row, dtype=np.float32)
        return out

    def randn(self, shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normal noise of `shape` (B, ...): row i from item i's stream."""
        return torch.from_numpy(self._rows(shape, "standard_normal")).to(device=device, dtype=dtype)

    def rand(self, shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> Tensor:
        """U[0, 1) noise of `shape` (B, ...): row i from item i's stream."""
        return torch.from_numpy(self._rows(shape, "random")).to(device=device, dtype=dtype)


# what the interface's `generator` arguments take: a torch generator, item-keyed noise, or None (torch's default)
Noise = torch.Generator | ItemNoise | None


def randn_like(t: Tensor, generator: Noise = None) -> Tensor:
    """Standard normal noise shaped like `t`, drawn from `generator` when given (a torch generator must live on
    t's device; item-keyed noise gives row i of the leading batch dimension from item i's stream)."""
    if isinstance(generator, ItemNoise):
        return generator.randn(t.shape, t.device, t.dtype)
    return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)


def rand_like(t: Tensor, generator: Noise = None) -> Tensor:
    """U[0, 1) noise shaped like `t`, from `generator` like `randn_like`."""
    if isinstance(generator, ItemNoise):
        return generator.rand(t.shape, t.device, t.dtype)
    return torch.rand(t.shape, generator=generator, device=t.device, dtype=t.dtype)


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
