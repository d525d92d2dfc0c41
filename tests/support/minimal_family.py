"""A family that defines only `encode` and `decode` (registered as "minimal-test"): the interface's test case.

Importing this module registers it, so train.py (in-process), the evaluate command and the app can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian
from explorer.models.base import VAE, VAEConfig
from explorer.models.registry import MODEL_REGISTRY, register_model


@dataclass
class MinimalConfig(VAEConfig):
    pass


class MinimalVAE(VAE):
    """Only the two required methods: a linear encoder and decoder."""

    family = "minimal-test"
    config_class = MinimalConfig

    def __init__(self, config: MinimalConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        self.enc = nn.Linear(pixels, 2 * config.latent_dim)
        self.dec = nn.Linear(config.latent_dim, pixels)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        mean, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    def decode(self, z: Tensor):
        return self.make_likelihood(self.dec(z).view(-1, *self.config.input_shape))


if MinimalVAE.family not in MODEL_REGISTRY:
    register_model(MinimalVAE)
