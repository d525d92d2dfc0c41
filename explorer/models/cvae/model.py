"""CVAE: a VAE conditioned on a class label y, in both the encoder q(z | x, y) and the decoder p(x | z, y).

The label is one-hot. The conv body adds it as K constant input channels of the first convolution (so every
conv feature can depend on it); the mlp body concatenates it to the flattened pixels. The decoder of either
body takes [z, one-hot(y)]; with `label_every_layer` the conv decoder also gets the label as K constant channels
before each transposed convolution, so a code from another class's item is still drawn as the asked class. The
prior stays N(0, I): z holds what the label does not say (the "style").

Every call takes `condition=` (B,) class indices (an int is broadcast over the batch); without one it says so.
The base class's loss_terms read the labels from the batch, so training, evaluation and the app only pass the
labels along (see `Capabilities.condition_classes`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian
from explorer.models.base import VAE, Capabilities
from explorer.models.conv import conv_sizes
from explorer.models.cvae.config import CVAEConfig
from explorer.models.blocks.layers import activation, linear, mlp
from explorer.models.registry import register_model

UNLABELLED = -1  # explorer.data's label of an item without one (models import nothing above them)


def _conv_block(conv: nn.Module, width: int, config: CVAEConfig) -> list[nn.Module]:
    return [conv, *([nn.BatchNorm2d(width)] if config.batch_norm else []), activation(config.activation)]


@register_model
class CVAE(VAE):
    family = "cvae"
    config_class = CVAEConfig

    def __init__(self, config: CVAEConfig):
        super().__init__(config)
        if config.n_classes < 1:
            raise ValueError("the cvae family is conditioned on class labels: n_classes must be at least 1 "
                             "(train.py fills it from a labelled data set's classes)")
        if config.body == "conv":
            self._build_conv(config)
        else:
            self._build_mlp(config)

    def _build_conv(self, config: CVAEConfig) -> None:
        in_ch, height, width = config.input_shape
        k, n = config.n_classes, len(config.channels)
        self.heights = conv_sizes(height, n)
        self.widths = conv_sizes(width, n)
        self.feature_shape = (config.channels[-1], self.heights[-1], self.widths[-1])
        features = math.prod(self.feature_shape)
        enc: list[nn.Module] = []
        for c_in, c_out in zip((in_ch + k, *config.channels[:-1]), config.channels):  # + k one-hot label planes
            enc += _conv_block(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), c_out, config)
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        hidden = config.hidden_dim or features
        self.enc_fc = (nn.Sequential(nn.Linear(features, hidden), activation(config.activation))
                       if config.hidden_dim else nn.Identity())
        self.to_stats = nn.Linear(hidden, 2 * config.latent_dim)
        z_in = config.latent_dim + k
        self.dec_fc = nn.Sequential(
            *([nn.Linear(z_in, hidden), activation(config.activation)] if config.hidden_dim else []),
            nn.Linear(hidden if config.hidden_dim else z_in, features),
            activation(config.activation),
        )
        layers: list[nn.Module] = []
        widths_out = (*reversed(config.channels[:-1]), in_ch)
        label_planes = k if config.label_every_layer else 0
        for i, (c_in, c_out) in enumerate(zip(reversed(config.channels), widths_out)):
            # as ConvVAE: layer i maps size index n-i to n-i-1, output_padding makes the size exact
            pad_h = self.heights[n - i - 1] - (2 * self.heights[n - i] - 1)
            pad_w = self.widths[n - i - 1] - (2 * self.widths[n - i] - 1)
            deconv = nn.ConvTranspose2d(c_in + label_planes, c_out, 3, stride=2, padding=1, output_padding=(pad_h, pad_w))
            layers += [deconv] if i == n - 1 else _conv_block(deconv, c_out, config)
        self.decoder = nn.Sequential(*layers)

    def _build_mlp(self, config: CVAEConfig) -> None:
        pixels, k = math.prod(config.input_shape), config.n_classes
        widths = [pixels + k, *config.hidden_sizes]
        self.encoder = mlp(widths, config.activation, config.weight_norm)
        self.to_stats = linear(widths[-1], 2 * config.latent_dim, config.weight_norm)
        self.decoder = mlp([config.latent_dim + k, *reversed(config.hidden_sizes)], config.activation, config.weight_norm)
        self.to_pixels = linear(config.hidden_sizes[0] if config.hidden_sizes else config.latent_dim + k, pixels,
                                config.weight_norm)

    # -- the label ----------------------------------------------------------------------------------
    def one_hot(self, condition: Tensor | int | None, batch: int, device: torch.device) -> Tensor:
        """(B, K) float one-hot of class indices (B,) or one int for the whole batch; refuses a missing or
        unlabelled condition."""
        k = self.config.n_classes
        if condition is None:
            raise ValueError(f"the {self.family!r} model is conditional (capabilities().condition_classes = {k}): "
                             "pass condition= class indices (B,) or one class index")
        c = torch.as_tensor(condition, device=device).long()
        c = c.expand(batch) if c.dim() == 0 else c.reshape(-1)
        if len(c) != batch:
            raise ValueError(f"condition has {len(c)} class indices for a batch of {batch}")
        if bool(((c < 0) | (c >= k)).any()):
            bad = sorted(set(c[(c < 0) | (c >= k)].tolist()))
            why = " (unlabelled items)" if UNLABELLED in bad else ""
            raise ValueError(f"condition holds class indices {bad}{why} outside 0..{k - 1}: a conditional model "
                             "needs every item's label")
        return F.one_hot(c, k).float()

    # -- the interface ------------------------------------------------------------------------------
    def encode(self, x: Tensor, condition: Tensor | int | None = None) -> DiagonalGaussian:
        """Images (B, C, H, W) and classes (B,) -> q(z | x, y)."""
        y = self.one_hot(condition, x.shape[0], x.device)  # (B, K)
        if self.config.body == "conv":
            planes = y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, K, H, W)
            h = self.enc_fc(self.encoder(torch.cat([x, planes], 1)))  # (B, hidden)
        else:
            h = self.encoder(torch.cat([x.flatten(1), y], 1))  # (B, hidden)
        mean, logvar = self.to_stats(h).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    def decode(self, z: Tensor, condition: Tensor | int | None = None):
        """Codes (B, D) and classes (B,) -> p(x | z, y)."""
        y = self.one_hot(condition, z.shape[0], z.device)  # (B, K)
        zy = torch.cat([z, y], 1)  # (B, D + K)
        if self.config.body == "conv":
            h = self.dec_fc(zy).view(-1, *self.feature_shape)  # (B, C_last, h, w)
            for layer in self.decoder:
                if self.config.label_every_layer and isinstance(layer, nn.ConvTranspose2d):
                    h = torch.cat([h, y[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)  # + (B, K, h, w)
                h = layer(h)
            raw = h
        else:
            raw = self.to_pixels(self.decoder(zy)).view(-1, *self.config.input_shape)
        return self.make_likelihood(raw)  # (B, C, H, W)

    @classmethod
    def config_capabilities(cls, config: CVAEConfig) -> Capabilities:
        """Conditional on n_classes classes; it predicts no labels (the label is an input)."""
        return Capabilities(condition_classes=config.n_classes, labels=False, item_keyed_noise=True)

    @classmethod
    def adapt_config_to_data(cls, values: dict[str, Any], data: Any) -> dict[str, Any]:
        """n_classes and class_names from a labelled DataSplit; unlabelled data are refused."""
        if not data.classes:
            raise ValueError(f"the cvae family is conditioned on class labels, and {data.name} is unlabelled; "
                             "train it on a labelled data set (e.g. mnist5k, digits, a folder of class subfolders)")
        values = dict(values)
        names = tuple(str(c) for c in data.classes)
        for key, want in (("n_classes", len(names)), ("class_names", names)):
            given = values.get(key)
            if given not in (None, 0, ()) and (tuple(given) if key == "class_names" else int(given)) != want:
                raise ValueError(f"{key} comes from the data set: {data.name} has {want!r}, not {given!r}")
            values[key] = want
        return values
