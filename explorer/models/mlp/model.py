"""The flat MLP VAE: fully connected encoder and decoder over flattened pixels."""

from __future__ import annotations

import math

from torch import Tensor

from explorer.distributions.iaf import IAFMixin, stats_width
from explorer.models.base import VAE
from explorer.models.blocks.layers import linear, mlp
from explorer.models.mlp.config import MLPConfig
from explorer.models.registry import register_model


@register_model
class MLPVAE(IAFMixin, VAE):
    family = "mlp"
    config_class = MLPConfig

    def __init__(self, config: MLPConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        widths = [pixels, *config.hidden_sizes]
        self.encoder = mlp(widths, config.activation, config.weight_norm)
        self.to_stats = linear(widths[-1], stats_width(config), config.weight_norm)
        self.decoder = mlp([config.latent_dim, *reversed(widths[1:])], config.activation, config.weight_norm)
        self.to_pixels = linear(widths[1], pixels, config.weight_norm)
        self.build_flow(config)

    def encode(self, x: Tensor):
        h = self.encoder(x.flatten(1))  # (B, hidden)
        return self.posterior_from_stats(self.to_stats(h))  # DiagonalGaussian, or IAFPosterior (iaf_steps > 0)

    def decode(self, z: Tensor):
        raw = self.to_pixels(self.decoder(z)).view(-1, *self.config.input_shape)  # (B, C, H, W)
        return self.make_likelihood(raw)
