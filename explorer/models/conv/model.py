"""The convolutional VAE: strided conv encoder, transposed-conv decoder.

Spatial sizes come from the data: the decoder retraces the encoder's sizes exactly (output_padding is chosen
per layer), so 28x28, 32x32 and 64x64 inputs, or any other, round-trip without cropping.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from explorer.distributions.iaf import IAFMixin, stats_width
from explorer.models.base import VAE
from explorer.models.blocks.layers import activation
from explorer.models.conv.config import ConvConfig, conv_sizes
from explorer.models.registry import register_model


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
