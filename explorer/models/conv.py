"""The convolutional VAE of seeds 002 and 003: strided conv encoder, transposed-conv decoder.

Spatial sizes come from the data: the decoder retraces the encoder's sizes exactly (output_padding is chosen
per layer), so 28x28, 32x32 and 64x64 inputs, or any other, round-trip without cropping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import Tensor, nn

from explorer.models.base import VAE, VAEConfig
from explorer.models.iaf import IAF_HELP, IAFMixin, check_iaf_fields, stats_width
from explorer.models.layers import ACTIVATIONS, activation
from explorer.models.registry import register_model


@dataclass
class ConvConfig(VAEConfig):
    channels: tuple[int, ...] = field(default=(32, 64, 128), metadata={
        "help": "conv widths, e.g. 32,64,128; each layer halves the spatial size"})
    hidden_dim: int = field(default=256, metadata={
        "help": "width of the fully connected layer between the conv features and the code (0: none)"})
    batch_norm: bool = field(default=False, metadata={"help": "batch norm after each conv (not after the output layer)"})
    activation: str = field(default="relu", metadata={
        "help": "nonlinearity after each layer", "choices": tuple(sorted(ACTIVATIONS))})
    iaf_steps: int = field(default=0, metadata={"help": IAF_HELP["iaf_steps"]})
    iaf_hidden: int = field(default=128, metadata={"help": IAF_HELP["iaf_hidden"]})
    context_dim: int = field(default=32, metadata={"help": IAF_HELP["context_dim"]})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_iaf_fields(self)
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels:
            raise ValueError("channels must name at least one conv layer")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")


def conv_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes after each stride-2, kernel-3, padding-1 conv, starting with the input size."""
    sizes = [size]
    for _ in range(layers):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


def _block(conv: nn.Module, width: int, config: ConvConfig) -> list[nn.Module]:
    return [conv, *([nn.BatchNorm2d(width)] if config.batch_norm else []), activation(config.activation)]


@register_model
class ConvVAE(IAFMixin, VAE):
    family = "conv"
    config_class = ConvConfig

    def __init__(self, config: ConvConfig):
        super().__init__(config)
        in_ch, height, width = config.input_shape
        self.heights = conv_sizes(height, len(config.channels))
        self.widths = conv_sizes(width, len(config.channels))
        self.feature_shape = (config.channels[-1], self.heights[-1], self.widths[-1])
        features = math.prod(self.feature_shape)

        enc: list[nn.Module] = []
        for c_in, c_out in zip((in_ch, *config.channels[:-1]), config.channels):
            enc += _block(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), c_out, config)
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        hidden = config.hidden_dim or features
        self.enc_fc = nn.Sequential(nn.Linear(features, hidden), activation(config.activation)) if config.hidden_dim else nn.Identity()
        self.to_stats = nn.Linear(hidden, stats_width(config))

        self.dec_fc = nn.Sequential(
            *([nn.Linear(config.latent_dim, hidden), activation(config.activation)] if config.hidden_dim else []),
            nn.Linear(hidden if config.hidden_dim else config.latent_dim, features),
            activation(config.activation),
        )
        dec: list[nn.Module] = []
        widths_out = (*reversed(config.channels[:-1]), in_ch)
        n = len(config.channels)
        for i, (c_in, c_out) in enumerate(zip(reversed(config.channels), widths_out)):
            # layer i maps size index n-i to n-i-1; output_padding makes the size exact
            pad_h = self.heights[n - i - 1] - (2 * self.heights[n - i] - 1)
            pad_w = self.widths[n - i - 1] - (2 * self.widths[n - i] - 1)
            deconv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=(pad_h, pad_w))
            dec += [deconv] if i == n - 1 else _block(deconv, c_out, config)
        self.decoder = nn.Sequential(*dec)
        self.build_flow(config)

    def encode(self, x: Tensor):
        h = self.enc_fc(self.encoder(x))  # (B, hidden)
        return self.posterior_from_stats(self.to_stats(h))  # DiagonalGaussian, or IAFPosterior (iaf_steps > 0)

    def decode(self, z: Tensor):
        h = self.dec_fc(z).view(-1, *self.feature_shape)  # (B, C_last, h, w)
        return self.make_likelihood(self.decoder(h))  # (B, C, H, W)

