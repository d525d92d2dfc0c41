"""What the discrete-code families (vqvae, fsq) share: the conv encoder and decoder around a grid of codes, the
deterministic posterior of a quantised code, and a base class with the training terms and index methods.

The probabilistic reading is van den Oord et al. (2017)'s: q(k | x) is one-hot (the nearest code), the prior over
the K codes of each cell is uniform, so KL(q || p) = log K per cell, a constant. The ELBO is then
-(nll + cells * log K); the IWAE bound equals it (every draw of a one-hot posterior is the same), so evaluation
reports none. The code pages show (`encode_code`) is the grid of quantised code vectors the decoder reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.distributions import Likelihood, Noise
from explorer.models.base import VAE, Capabilities, CodeLevel, VAEConfig, VAEOutput, check_code_indices


@dataclass
class DiscreteConfig(VAEConfig):
    """Fields the discrete families share (the code's shape comes from these, not from latent_dim)."""

    ignored_fields: ClassVar[tuple[str, ...]] = ("latent_dim",)

    channels: tuple[int, ...] = field(default=(32, 64), metadata={
        "help": "discrete: widths of the stride-2 convs (kernel 4) of the encoder; each halves the image side, so "
                "the code grid is H / 2^len x W / 2^len (the decoder mirrors them)"})
    res_blocks: int = field(default=2, metadata={"help": "discrete: residual blocks after the convs (and before the "
                                                         "decoder's transposed convs)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive widths, got {self.channels}")
        if self.res_blocks < 0:
            raise ValueError(f"res_blocks must be 0 or more, got {self.res_blocks}")
        factor = 2 ** len(self.channels)
        _, height, width = self.input_shape
        if height % factor or width % factor:
            raise ValueError(f"the image size {height}x{width} must be a multiple of 2^len(channels) = {factor}")

    @property
    def stride(self) -> int:
        return 2 ** len(self.channels)

    @property
    def grid(self) -> tuple[int, int]:
        return (self.input_shape[1] // self.stride, self.input_shape[2] // self.stride)


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))), the VQ-VAE paper's residual block."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@dataclass
class Field:
    """The receptive field of a stack of convs: size r, jump (stride so far) and offset of cell 0's box."""

    size: int = 1
    jump: int = 1
    offset: int = 0

    def conv(self, kernel: int, stride: int, padding: int) -> "Field":
        return Field(self.size + (kernel - 1) * self.jump, self.jump * stride, self.offset + padding * self.jump)

    def res_blocks(self, n: int) -> "Field":
        out = self
        for _ in range(n):
            out = out.conv(3, 1, 1)
        return out


def conv_encoder(in_ch: int, channels: Sequence[int], res_blocks: int) -> tuple[nn.Sequential, Field]:
    """Stride-2 convs (kernel 4) then residual blocks: images (B, C, H, W) -> features (B, channels[-1], H/s, W/s),
    with the receptive field of one output cell."""
    layers: list[nn.Module] = []
    rf = Field()
    for c_in, c_out in zip((in_ch, *channels[:-1]), channels):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        rf = rf.conv(4, 2, 1)
    layers += [ResBlock(channels[-1]) for _ in range(res_blocks)]
    return nn.Sequential(*layers, nn.ReLU()), rf.res_blocks(res_blocks)


def conv_decoder(code_size: int, channels: Sequence[int], res_blocks: int, out_ch: int) -> nn.Sequential:
    """Code vectors (B, code_size, h, w) -> decoder logits (B, out_ch, h * s, w * s): the encoder mirrored."""
    widths = list(reversed(channels))
    layers: list[nn.Module] = [nn.Conv2d(code_size, widths[0], 3, padding=1)]
    layers += [ResBlock(widths[0]) for _ in range(res_blocks)]
    layers.append(nn.ReLU())
    for i, (c_in, c_out) in enumerate(zip(widths, (*widths[1:], out_ch))):
        layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
        if i < len(widths) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class QuantisedCode:
    """q(z | x) of a quantised code: a point mass at the code vectors `mean` (B, D, h, w), with KL log K per cell
    against the uniform prior, spread evenly over the D channels so that `kl()` sums to cells * log K."""

    has_analytic_kl = True

    def __init__(self, mean: Tensor, kl_per_item: float):
        self.mean = mean
        self.kl_per_item = kl_per_item

    def rsample(self, generator: Noise = None) -> Tensor:
        return self.mean  # a point mass: the draw is the code (gradients pass straight through the quantiser)

    def log_prob(self, z: Tensor) -> Tensor:
        return torch.zeros_like(z)

    def kl(self) -> Tensor:
        per_element = self.kl_per_item / self.mean[0].numel()
        return torch.full_like(self.mean, per_element)

    def kl_at(self, z: Tensor) -> Tensor:
        return self.kl()

    def expand_draws(self, k: int) -> "QuantisedCode":
        mean = self.mean.unsqueeze(1).expand(self.mean.shape[0], k, *self.mean.shape[1:])
        return QuantisedCode(mean, self.kl_per_item)


@dataclass
class Quantised:
    """One pass through the quantisers: the decoder's input (B, D, h, w), the indices per level (B, h_l, w_l),
    and the per-sample commitment term (B,) (zero for FSQ)."""

    z: Tensor
    indices: list[Tensor]
    commitment: Tensor


class DiscreteVAE(VAE):
    """Base of the discrete families: a subclass builds its quantiser(s) and implements `quantise(x)`,
    `vectors_from_indices(indices)`, `code_levels()` and `codebook(level)`."""

    code_name = "quantised code vectors"
    posterior_name = "one-hot (the nearest code), uniform prior over the codes: KL = log K per cell"
    config: DiscreteConfig

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        """A grid of codebook indices; the quantisers' k-means and dead-code draws use torch's global generator."""
        return Capabilities(discrete_code=True, spatial_code=True, size_multiple=0)

    # -- what a family provides -------------------------------------------------------------------------
    def quantise(self, x: Tensor) -> Quantised:
        raise NotImplementedError

    def vectors_from_indices(self, indices: list[Tensor], keep: Sequence[int]) -> Tensor:
        """The decoder's input (B, D, h, w) for checked indices; levels not in keep contribute zeros."""
        raise NotImplementedError

    # -- the VAE interface ------------------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.decoder_input_size, *self.config.grid)

    @property
    def decoder_input_size(self) -> int:
        raise NotImplementedError

    def kl_per_item(self) -> float:
        """cells * log K summed over the levels: the KL of the one-hot posterior against the uniform prior."""
        return sum(math.prod(level.grid) * math.log(level.codebook_size) for level in self.code_levels())

    def encode(self, x: Tensor) -> QuantisedCode:
        return QuantisedCode(self.quantise(x).z, self.kl_per_item())

    def decode(self, z: Tensor) -> Likelihood:
        return self.make_likelihood(self.decoder(z))

    def forward(self, x: Tensor, generator: Noise = None, condition: None = None) -> VAEOutput:
        q = self.quantise(x)
        posterior = QuantisedCode(q.z, self.kl_per_item())
        return VAEOutput(posterior, q.z, self.decode(q.z), {"commitment": q.commitment} if self.has_commitment else {})

    has_commitment = False

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None,
                         condition: None = None) -> Tensor:
        raise ValueError(f"the {self.family!r} model has no IWAE bound beyond its ELBO: its posterior is one-hot (every "
                         "draw is the nearest code), so all k importance weights are equal and the bound is the ELBO")

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               condition: None = None) -> Tensor:
        """n images decoded from indices drawn from the model's prior, uniform over each level's codes (the model
        has no learned prior, so these do not look like the data; explorer.analysis.codebook samples from the
        data's code frequencies)."""
        indices = [torch.randint(0, level.codebook_size, (n, *level.grid), generator=generator,
                                 device=generator.device if generator is not None else self.device)
                   for level in self.code_levels()]
        return self.decode_indices([i.to(self.device) for i in indices])

    # -- indices ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_indices(self, x: Tensor) -> list[Tensor]:
        return [i.long() for i in self.quantise(x).indices]

    @torch.no_grad()
    def decode_indices(self, indices: Tensor | Sequence[Tensor], levels: Sequence[int] | None = None) -> Tensor:
        checked = check_code_indices(indices, self.code_levels())
        keep = range(len(checked)) if levels is None else list(levels)
        bad = [lv for lv in keep if not 0 <= lv < len(checked)]
        if bad:
            raise ValueError(f"levels {bad} do not exist: this model has levels 0..{len(checked) - 1} "
                             f"({', '.join(level.name for level in self.code_levels())})")
        z = self.vectors_from_indices([c.to(self.device) for c in checked], keep)
        return self.decode(z).mean


def nearest_to(top: Tensor, grid: tuple[int, int]) -> Tensor:
    """A coarser level's vectors (B, D, h', w') repeated onto the finer grid (B, D, h, w), nearest cell."""
    return F.interpolate(top, size=grid, mode="nearest")
