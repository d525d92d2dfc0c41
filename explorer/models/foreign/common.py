"""What every foreign model shares: a config with the latent shape and value range, and a `VAE` base class.

A foreign model is evaluated, never trained here (`trainable=False`). Images enter and leave as float
(B, C, H, W) in [0, 1]; `to_model_range` / `from_model_range` convert to the range the foreign network uses.
A Gaussian likelihood has a fixed, stated scale `sigma` on the [0, 1] scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from explorer.distributions import BernoulliLikelihood, GaussianLikelihood, Likelihood, randn_like
from explorer.models.base import VAE, Capabilities, VAEConfig
from explorer.models.latent_scaling import LatentScaling

VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0))


@dataclass
class ForeignConfig(VAEConfig):
    """A model trained elsewhere, as the explorer sees it (latent_dim is derived from latent_shape)."""

    latent_shape: tuple[int, ...] = (16,)  # shape of one latent: (D,) or (C, h, w)
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel range the foreign network reads (and writes, if gaussian)
    sigma: float = 0.1  # gaussian only: fixed standard deviation of p(x | z) on [0, 1] images
    class_names: tuple[str, ...] = ()  # optional names of the data's classes (metadata only)
    source: str = ""  # the folder or file it was loaded from
    learn_scale: bool = False  # never learned: the scale is stated

    def __post_init__(self) -> None:
        self.latent_shape = tuple(int(s) for s in self.latent_shape)
        self.latent_dim = math.prod(self.latent_shape)
        self.value_range = tuple(float(v) for v in self.value_range)
        if self.value_range not in VALUE_RANGES:
            raise ValueError(f"value_range must be [0, 1] or [-1, 1], got {list(self.value_range)}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        self.learn_scale = False
        self.init_log_scale = math.log(self.sigma)
        self.class_names = tuple(str(c) for c in self.class_names)
        super().__post_init__()


@dataclass
class ScaledLatentConfig(ForeignConfig):
    """A diffusers-style autoencoder whose code is the pipeline's scaled latent: images in [-1, 1] at both ends,
    scored with a Gaussian, and one scaling (`LatentScaling`): scalar, or per channel where latents_mean / latents_std
    are given (SDXL-style: code[c] = (latent[c] - mean[c]) * scaling_factor / std[c])."""

    likelihood: str = "gaussian"
    value_range: tuple[float, float] = (-1.0, 1.0)
    scaling_factor: float = 1.0  # diffusers' config.scaling_factor: code = (latent - shift_factor) * scaling_factor
    shift_factor: float = 0.0  # diffusers' config.shift_factor (None there means 0)
    latents_mean: tuple[float, ...] = ()  # per latent channel; () when the latent is scaled as a whole
    latents_std: tuple[float, ...] = ()

    def describes(self) -> str:
        """What the config describes, for messages ("an AutoencoderKL")."""
        return "this autoencoder"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood != "gaussian" or self.value_range != (-1.0, 1.0):
            raise ValueError(f"{self.describes()} is scored with a Gaussian on images it reads and writes in [-1, 1]")
        self.latents_mean = tuple(float(v) for v in self.latents_mean)
        self.latents_std = tuple(float(v) for v in self.latents_std)
        for name, stats in (("latents_mean", self.latents_mean), ("latents_std", self.latents_std)):
            if stats and len(stats) != self.latent_shape[0]:
                raise ValueError(f"{name} has {len(stats)} values for {self.latent_shape[0]} latent channels")
        _ = self.scaling  # validates scaling_factor and the statistics

    @property
    def scaling(self) -> LatentScaling:
        """How codes are made from latents (see `LatentScaling`)."""
        return LatentScaling(self.scaling_factor, self.shift_factor, self.latents_mean, self.latents_std)


class ForeignVAE(VAE):
    """Base of the foreign adapters: latent shape, device, capabilities, ranges and the likelihood."""

    config: ForeignConfig

    def __init__(self, config: ForeignConfig):
        super().__init__(config)
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # follows .to(); a model may have no parameters

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        spatial = isinstance(config, ForeignConfig) and len(config.latent_shape) == 3
        return Capabilities(trainable=False, spatial_code=spatial)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.config.latent_shape

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    def likelihood_description(self) -> str:
        if self.config.likelihood == "bernoulli":
            return "Bernoulli per pixel (the foreign decoder outputs logits)"
        low, high = self.config.value_range
        return (f"Gaussian per pixel on [0, 1] with a fixed scale sigma = {self.config.sigma:g} "
                f"(log sigma = {math.log(self.config.sigma):.3f}); its mean is the decoder's output mapped from "
                f"[{low:g}, {high:g}] to [0, 1]")

    def to_model_range(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) in [0, 1] -> the foreign network's value range."""
        low, high = self.config.value_range
        return x * (high - low) + low

    def from_model_range(self, y: Tensor) -> Tensor:
        low, high = self.config.value_range
        return (y - low) / (high - low)

    def likelihood_from_output(self, out: Tensor) -> Likelihood:
        """The decoder's output (B, C, H, W) -> p(x | z): logits (bernoulli) or an image in value_range (gaussian,
        not clamped so that log_prob sees the network's own mean; `.mean` clamps for display)."""
        out = out.reshape(out.shape[0], *self.config.input_shape)
        if self.config.likelihood == "bernoulli":
            return BernoulliLikelihood(out)
        return GaussianLikelihood(self.from_model_range(out), self.log_scale)

class ScaledLatentVAE(ForeignVAE):
    """A diffusers autoencoder whose code is the pipeline's scaled latent (`config.scaling`, a LatentScaling):
    the code <-> latent maps and prior samples in the scaled space, shared by the KL and the plain-latent ones."""

    config: ScaledLatentConfig

    def __init__(self, config: ScaledLatentConfig, vae: torch.nn.Module):
        super().__init__(config)
        self.vae = vae  # the diffusers autoencoder itself

    def code_from_latent(self, z: Tensor) -> Tensor:
        """Unscaled latents -> the pipeline's scaled latent (`LatentScaling`, `config.scaling_note()`)."""
        return self.config.scaling.code_from_latent(z)

    def latent_from_code(self, code: Tensor) -> Tensor:
        return self.config.scaling.latent_from_code(code)

    def code_scaling(self) -> tuple[float, float]:
        """The scalar factors; with per-channel latents_mean / std the map is per channel, and a latent file
        also records `config.scaling.describe()`."""
        return float(self.config.scaling.scaling_factor), float(self.config.scaling.shift_factor)

    def latent_scaling(self) -> LatentScaling:
        return self.config.scaling

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """n images (n, C, H, W) in [0, 1] decoded from codes ~ N(0, temperature^2 I) in the scaled code space (in
        which the scaling makes the latents about unit variance; these models have no prior of their own)."""
        code = randn_like(torch.empty(n, *self.latent_shape, device=self.device), generator) * temperature
        return self.decode(self.latent_from_code(code)).mean
