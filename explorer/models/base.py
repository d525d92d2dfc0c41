"""The interface every model family implements, and the shared pieces behind it.

A family subclasses `VAE`, sets `config_class`, and implements `encode(x) -> DiagonalGaussian` and
`decode(z) -> likelihood`. Sampling, reconstruction, interpolation, per-sample loss terms and importance
weights then come from this base class. Models never draw hidden randomness: every draw takes a generator.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from explorer.distributions import (
    BernoulliLikelihood,
    DiagonalGaussian,
    GaussianLikelihood,
    Likelihood,
    randn_like,
    standard_normal_log_prob,
)

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass
class VAEConfig:
    """Fields every family shares; families add their own."""

    input_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) of the data
    latent_dim: int = 16  # size of a vector code (tensor-shaped codes define their own shape)
    likelihood: str = "bernoulli"  # "bernoulli" (logits, data in [0, 1]) or "gaussian" (dequantised 8-bit)
    learn_scale: bool = True  # gaussian only: learn one log standard deviation per channel
    init_log_scale: float = -2.0  # gaussian only: initial (or fixed) log standard deviation

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)  # JSON gives lists
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {self.input_shape}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} does not know the field(s) {unknown}")
        return cls(**values)


@dataclass
class VAEOutput:
    """One stochastic pass: the posterior, the drawn code, the likelihood and any extra per-sample terms."""

    posterior: DiagonalGaussian
    z: Tensor
    likelihood: Likelihood
    extra: dict[str, Tensor] = field(default_factory=dict)


class VAE(nn.Module):
    """Base class of every family. Subclasses implement `encode` and `decode`."""

    family: ClassVar[str] = ""
    config_class: ClassVar[type[VAEConfig]] = VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        channels = config.input_shape[0]
        if config.likelihood == "gaussian":
            log_scale = torch.full((1, channels, 1, 1), float(config.init_log_scale))
            if config.learn_scale:
                self.log_scale = nn.Parameter(log_scale)
            else:
                self.register_buffer("log_scale", log_scale)

    # -- the two methods a family provides -------------------------------------------------------
    def encode(self, x: Tensor) -> DiagonalGaussian:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Likelihood:
        raise NotImplementedError

    # -- shared behaviour -----------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one code: (latent_dim,) for vector codes, (C, H, W) for tensor codes."""
        return (self.config.latent_dim,)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def compile_training_kernels(self) -> list[str]:
        """Compile what this family can compile for training (torch.compile); returns what was compiled.
        Families without such a kernel compile nothing (train.py --compile then says so)."""
        return []

    def make_likelihood(self, raw: Tensor) -> Likelihood:
        """Turn the decoder's last activations (B, C, H, W) into the configured likelihood."""
        if self.config.likelihood == "bernoulli":
            return BernoulliLikelihood(raw)
        return GaussianLikelihood(torch.sigmoid(raw), self.log_scale.clamp(-7.0, 2.0))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        posterior = self.encode(x)
        z = posterior.sample(generator)
        return VAEOutput(posterior, z, self.decode(z))

    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-sample terms for the objective: `nll` (B,), `kl_dims` (B, D) and any extra (B,) terms.

        `batch` is what the data loader yields; families with labels or captions read more of it.
        """
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        out = self(x, generator)
        terms = {
            "nll": -out.likelihood.log_prob(x).flatten(1).sum(1),
            "kl_dims": out.posterior.kl().flatten(1),
        }
        terms.update(out.extra)
        return terms

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One-draw estimate of the ELBO's terms per image: `nll` (B,), `kl_dims` (B, D), and any further KL
        terms (B,) of a family whose latent variables are more than the code (each under its own name).

        ELBO = -(nll + kl_dims.sum(1) + sum of the further terms). Unlike `loss_terms` nothing is weighted
        and no label or caption term enters: this is the bound on log p(x) that evaluation reports.
        """
        posterior = self.encode(x)
        z = posterior.sample(generator)
        return {"nll": -self.decode(z).log_prob(x).flatten(1).sum(1), "kl_dims": posterior.kl().flatten(1)}

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """log p(x, z_i) - log q(z_i | x) for k posterior draws per image, shape (B, k)."""
        posterior = self.encode(x)
        batch = x.shape[0]
        mean = posterior.mean.unsqueeze(1).expand(batch, k, *posterior.mean.shape[1:])
        logvar = posterior.logvar.unsqueeze(1).expand_as(mean)
        draws = DiagonalGaussian(mean, logvar)
        z = draws.sample(generator)  # (B, k, *latent)
        log_q = draws.log_prob(z).flatten(2).sum(2)
        log_prior = standard_normal_log_prob(z).flatten(2).sum(2)
        likelihood = self.decode(z.flatten(0, 1))
        x_rep = x.unsqueeze(1).expand(batch, k, *x.shape[1:]).flatten(0, 1)
        log_px = likelihood.log_prob(x_rep).flatten(1).sum(1).view(batch, k)
        return log_px + log_prior - log_q

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """n images (n, C, H, W) in [0, 1]: the likelihood means of codes drawn from N(0, temperature^2 I)."""
        z = torch.empty(n, *self.latent_shape, device=self.device)
        z = randn_like(z, generator) * temperature
        return self.decode(z).mean

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decode the posterior mean: deterministic reconstruction (B, C, H, W) in [0, 1]."""
        return self.decode(self.encode(x).mean).mean

    @torch.no_grad()
    def interpolate(self, x0: Tensor, x1: Tensor, steps: int, spherical: bool = False) -> Tensor:
        """Images decoded along the path between the posterior means of x0 and x1 (each (C, H, W) or (1, C, H, W)).

        Returns (steps, C, H, W). Spherical interpolation (slerp) keeps the norm profile of Gaussian codes.
        """
        x = torch.stack([x0.reshape(self.config.input_shape), x1.reshape(self.config.input_shape)])
        z0, z1 = self.encode(x.to(self.device)).mean
        return self.decode(interpolate_codes(z0, z1, steps, spherical)).mean


def interpolate_codes(z0: Tensor, z1: Tensor, steps: int, spherical: bool = False) -> Tensor:
    """Codes from z0 to z1 inclusive, shape (steps, *z0.shape); linear or spherical."""
    t = torch.linspace(0.0, 1.0, steps, device=z0.device).view(-1, *([1] * z0.dim()))
    if not spherical:
        return (1 - t) * z0 + t * z1
    a, b = z0.flatten(), z1.flatten()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / math.sin(float(omega))
