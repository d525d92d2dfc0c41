"""The flat MLP VAE of seeds 001 and 004: fully connected encoder and decoder over flattened pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import Tensor

from explorer.models.base import VAE, VAEConfig
from explorer.models.iaf import IAF_HELP, IAFMixin, check_iaf_fields, stats_width
from explorer.models.layers import ACTIVATIONS, linear, mlp
from explorer.models.registry import register_model


@dataclass
class MLPConfig(VAEConfig):
    hidden_sizes: tuple[int, ...] = field(default=(512, 256), metadata={
        "help": "widths of the encoder's hidden layers, e.g. 512,256; the decoder mirrors them"})
    activation: str = field(default="relu", metadata={
        "help": "relu or selu (seed 001), also elu, leaky_relu", "choices": tuple(sorted(ACTIVATIONS))})
    weight_norm: bool = field(default=False, metadata={"help": "weight-normalised linear layers (seed 001)"})
    iaf_steps: int = field(default=0, metadata={"help": IAF_HELP["iaf_steps"]})
    iaf_hidden: int = field(default=128, metadata={"help": IAF_HELP["iaf_hidden"]})
    context_dim: int = field(default=32, metadata={"help": IAF_HELP["context_dim"]})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_iaf_fields(self)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be one or more positive widths, got {list(self.hidden_sizes)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")


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
