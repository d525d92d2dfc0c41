"""The VAE/GAN discriminator: stride-2 convs whose l-th layer output Dis_l(x) is both the space the
reconstruction is scored in and (in the loss lab) a learned similarity, then a real/fake logit."""

from __future__ import annotations

import math

from torch import Tensor, nn

from explorer.models.conv import conv_sizes


class Discriminator(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> (real-vs-fake logits (B,), layer-l features (B, F)).

    No batch norm: a feature of one image must not depend on the others in its batch, so the loss lab's
    distances and the feature likelihood are the same in training and evaluation.
    """

    def __init__(self, input_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: int, layer: int):
        super().__init__()
        in_ch, height, width = input_shape
        self.layer = layer
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2))
            for c_in, c_out in zip((in_ch, *channels[:-1]), channels)
        )
        heights, widths = conv_sizes(height, len(channels)), conv_sizes(width, len(channels))
        self.feature_shape = (channels[layer - 1], heights[layer], widths[layer])
        last = channels[-1] * heights[-1] * widths[-1]
        self.head = nn.Sequential(nn.Flatten(), *([nn.Linear(last, hidden), nn.LeakyReLU(0.2)] if hidden else []),
                                  nn.Linear(hidden or last, 1))

    @property
    def feature_size(self) -> int:
        """F, the number of layer-l features of one image."""
        return math.prod(self.feature_shape)

    def forward(self, x: Tensor, features_only: bool = False) -> tuple[Tensor, Tensor] | Tensor:
        """(logits (B,), Dis_l(x) (B, F)); with features_only, Dis_l(x) alone, running only the layers up to l."""
        h = 2.0 * x - 1.0  # [0, 1] -> [-1, 1]
        features = h.flatten(1)
        for i, conv in enumerate(self.convs, start=1):
            h = conv(h)
            if i == self.layer:
                features = h.flatten(1)  # (B, F)
                if features_only:
                    return features
        return self.head(h).squeeze(1), features  # (B,), (B, F)

    def features(self, x: Tensor) -> Tensor:
        """Dis_l(x): (B, F)."""
        return self(x, features_only=True)
