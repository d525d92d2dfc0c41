"""AutoencoderKLVAE: a `diffusers.AutoencoderKL` trained here, through the common VAE interface.

Ranges and spaces (as explorer.models.foreign.diffusers_kl reads a Stable Diffusion VAE folder):
- encode: images [0, 1] -> [-1, 1] -> diffusers' `latent_dist`; q(z | x) is a diagonal Gaussian over the
  unscaled latent (B, latent_channels, H / f, W / f).
- decode: p(x | z) is Gaussian on [0, 1] with mean (decoder sample + 1) / 2 and the base class's learned
  per-channel scale, so the ELBO is a proper bound on 8-bit-dequantised images.
- codes (sliders, prior draws, maps) live in the scaled space diffusers' pipelines use: code = z * scaling_factor.

`save_diffusers(folder)` writes the wrapped AutoencoderKL with diffusers' own `save_pretrained` (config.json +
diffusion_pytorch_model.safetensors): the folder loads with `AutoencoderKL.from_pretrained` and with the
explorer's diffusers loader. diffusers is imported when a model is built, never at import time.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from explorer.distributions import DiagonalGaussian, GaussianLikelihood
from explorer.models.autoencoder_kl.config import AutoencoderKLConfig
from explorer.models.base import VAE, Capabilities
from explorer.models.registry import register_model


def build_autoencoder_kl(config: AutoencoderKLConfig) -> torch.nn.Module:
    """A fresh diffusers AutoencoderKL for the config (random weights from torch's global generator)."""
    from diffusers import AutoencoderKL

    blocks = len(config.block_out_channels)
    channels, height, width = config.input_shape
    return AutoencoderKL(
        in_channels=channels, out_channels=channels,
        down_block_types=("DownEncoderBlock2D",) * blocks, up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=config.block_out_channels, layers_per_block=config.layers_per_block,
        latent_channels=config.latent_channels, norm_num_groups=config.norm_num_groups,
        sample_size=height if height == width else [height, width], scaling_factor=config.scaling_factor,
        mid_block_add_attention=config.mid_block_add_attention,
    )


@register_model
class AutoencoderKLVAE(VAE):
    family = "autoencoder_kl"
    config_class = AutoencoderKLConfig
    code_name = "scaled posterior mean"
    config: AutoencoderKLConfig

    def __init__(self, config: AutoencoderKLConfig):
        super().__init__(config)
        self.vae = build_autoencoder_kl(config)

    @classmethod
    def config_capabilities(cls, config: AutoencoderKLConfig) -> Capabilities:
        """A spatial code; every training draw goes through explorer.distributions (item-keyed noise)."""
        return Capabilities(spatial_code=True, item_keyed_noise=True)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.config.code_shape

    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) over unscaled latents (B, latent_channels, H / f, W / f);
        any H, W that are multiples of f (the encoder is convolutional)."""
        dist = self.vae.encode(x * 2.0 - 1.0).latent_dist
        return DiagonalGaussian(dist.mean, dist.logvar)

    def decode(self, z: Tensor) -> GaussianLikelihood:
        """Unscaled latents (B, latent_channels, h, w) -> Gaussian over images (B, C, h * f, w * f) in [0, 1]."""
        sample = self.vae.decode(z).sample  # (B, C, H, W), about [-1, 1]
        return GaussianLikelihood((sample + 1.0) / 2.0, self.log_scale.clamp(-7.0, 2.0))

    def code_from_latent(self, z: Tensor) -> Tensor:
        return z * self.config.scaling_factor

    def latent_from_code(self, code: Tensor) -> Tensor:
        return code / self.config.scaling_factor

    def code_scaling(self) -> tuple[float, float]:
        return float(self.config.scaling_factor), 0.0

    def likelihood_description(self) -> str:
        return super().likelihood_description() + " (the diffusers decoder's sample)"

    def save_diffusers(self, folder: str | Path, scaling_factor: float | None = None) -> Path:
        """Write the AutoencoderKL with diffusers' `save_pretrained` (config.json + safetensors) into folder;
        scaling_factor (default: the config's) goes into its config.json for pipelines. Returns the folder."""
        folder = Path(folder)
        if scaling_factor is not None:
            if not scaling_factor > 0:
                raise ValueError(f"scaling_factor must be positive, got {scaling_factor}")
            self.config.scaling_factor = float(scaling_factor)
            self.vae.register_to_config(scaling_factor=float(scaling_factor))
        self.vae.save_pretrained(str(folder), safe_serialization=True)
        return folder
