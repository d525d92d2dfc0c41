"""A diffusers `AutoencoderKL` folder (as `save_pretrained` writes it) as an explorer `VAE`.

Ranges and spaces:
- encode: images [0, 1] -> [-1, 1] -> `latent_dist`; the posterior is over the UNSCALED latent (B, C_lat, h, w),
  so KL and ELBO are those of the VAE as trained.
- codes (sliders, prior draws, maps) live in the scaled space diffusers' pipelines use:
  code = (z - shift_factor) * scaling_factor, z = code / scaling_factor + shift_factor.
- decode: p(x | z) is Gaussian on [0, 1] with mean (decoder sample + 1) / 2 and a fixed, stated sigma.

diffusers is optional and imported only when a folder is loaded. Only local folders with safetensors weights
are read (never a hub name, never a pickled .bin).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from explorer.distributions import DiagonalGaussian, GaussianLikelihood, randn_like
from explorer.models.base import VAEConfig
from explorer.models.foreign.common import ForeignConfig, ForeignVAE
from explorer.models.foreign.detect import CONFIG_NAME, DIFFUSERS_WEIGHTS, detect_format, read_small_json
from explorer.models.foreign.errors import ForeignModelError


@dataclass
class DiffusersKLConfig(ForeignConfig):
    """An AutoencoderKL as the explorer sees it; value_range is always [-1, 1]."""

    likelihood: str = "gaussian"
    value_range: tuple[float, float] = (-1.0, 1.0)
    scaling_factor: float = 1.0  # diffusers' config.scaling_factor
    shift_factor: float = 0.0  # diffusers' config.shift_factor (None there means 0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood != "gaussian" or self.value_range != (-1.0, 1.0):
            raise ValueError("an AutoencoderKL is scored with a Gaussian on images it sees in [-1, 1]")
        if self.scaling_factor == 0:
            raise ValueError("scaling_factor must not be 0")


def _import_autoencoder_kl() -> Any:
    try:
        from diffusers import AutoencoderKL
    except ImportError as exc:
        raise ForeignModelError(f"loading a diffusers AutoencoderKL needs diffusers: pip install diffusers ({exc})") from None
    return AutoencoderKL


def _image_hw(config: dict[str, Any], image_size: int | tuple[int, int] | None, factor: int, path: Path) -> tuple[int, int]:
    size = image_size if image_size is not None else config.get("sample_size", 32)
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height % factor or width % factor or height < factor or width < factor:
        raise ForeignModelError(f"{path}: image size {height}x{width} is not a multiple of the downsampling "
                                f"factor {factor} (2 ** (len(block_out_channels) - 1)); pass another image_size")
    return height, width


def diffusers_config(folder: Path, image_size: int | tuple[int, int] | None = None, sigma: float = 0.1) -> DiffusersKLConfig:
    """The explorer config of a diffusers folder, from its config.json alone (no torch weights read)."""
    raw = read_small_json(folder / CONFIG_NAME)
    factor = 2 ** (len(raw.get("block_out_channels", (64,))) - 1)
    height, width = _image_hw(raw, image_size, factor, folder / CONFIG_NAME)
    channels = int(raw.get("in_channels", 3))
    if int(raw.get("out_channels", 3)) != channels:
        raise ForeignModelError(f"{folder / CONFIG_NAME}: in_channels {channels} and out_channels "
                                f"{raw.get('out_channels')} differ; the explorer needs an autoencoder of images")
    shift = raw.get("shift_factor")
    try:
        return DiffusersKLConfig(
            input_shape=(channels, height, width),
            latent_shape=(int(raw.get("latent_channels", 4)), height // factor, width // factor),
            scaling_factor=float(raw.get("scaling_factor", 0.18215)),
            shift_factor=float(shift) if shift is not None else 0.0,
            sigma=sigma, source=str(folder))
    except (TypeError, ValueError) as exc:
        raise ForeignModelError(f"{folder / CONFIG_NAME}: {exc}") from None


class DiffusersKLVAE(ForeignVAE):
    """A wrapped `diffusers.AutoencoderKL` (held as `self.vae`)."""

    family = "diffusers_kl"
    config_class = DiffusersKLConfig
    code_name = "scaled posterior mean"
    config: DiffusersKLConfig

    def __init__(self, config: DiffusersKLConfig, vae: torch.nn.Module):
        super().__init__(config)
        self.vae = vae

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "DiffusersKLVAE":
        """Load the folder's weights (folder defaults to config.source)."""
        if not isinstance(config, DiffusersKLConfig):
            raise TypeError(f"{type(config).__name__} is not a DiffusersKLConfig")
        folder = Path(folder or config.source)
        return cls(config, load_autoencoder_kl(folder))

    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) over unscaled latents (B, C_lat, h, w)."""
        dist = self.vae.encode(self.to_model_range(x)).latent_dist
        return DiagonalGaussian(dist.mean, dist.logvar)

    def decode(self, z: Tensor) -> GaussianLikelihood:
        """Unscaled latents (B, C_lat, h, w) -> Gaussian over images (B, C, H, W) in [0, 1]."""
        sample = self.vae.decode(z).sample  # (B, C, H, W) in about [-1, 1]
        return GaussianLikelihood(self.from_model_range(sample), self.log_scale)

    def code_from_latent(self, z: Tensor) -> Tensor:
        return (z - self.config.shift_factor) * self.config.scaling_factor

    def latent_from_code(self, code: Tensor) -> Tensor:
        return code / self.config.scaling_factor + self.config.shift_factor

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """n images (n, C, H, W) in [0, 1] decoded from codes ~ N(0, temperature^2 I) in the scaled code space
        (the space in which diffusers' scaling_factor makes the latents about unit variance)."""
        code = randn_like(torch.empty(n, *self.latent_shape, device=self.device), generator) * temperature
        return self.decode(self.latent_from_code(code)).mean

    def likelihood_description(self) -> str:
        return super().likelihood_description() + " (the diffusers decoder's sample)"


def load_autoencoder_kl(folder: Path) -> torch.nn.Module:
    """diffusers' own `AutoencoderKL.from_pretrained(folder, use_safetensors=True)`, local files only, float32, eval."""
    folder = Path(folder)
    if detect_format(folder) != "diffusers":  # refuses .bin-only and weightless folders with their own message
        raise ForeignModelError(f"{folder} is not a diffusers AutoencoderKL folder")
    autoencoder_kl = _import_autoencoder_kl()
    try:
        vae = autoencoder_kl.from_pretrained(str(folder), use_safetensors=True, local_files_only=True,
                                              low_cpu_mem_usage=False)  # no accelerate needed
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ForeignModelError(f"{folder}: diffusers could not load this AutoencoderKL "
                                f"({DIFFUSERS_WEIGHTS}): {exc}") from None
    return vae.float().eval()


def load_diffusers_kl(folder: str | Path, device: torch.device | str = "cpu", image_size: int | tuple[int, int] | None = None,
                      sigma: float = 0.1) -> DiffusersKLVAE:
    """A diffusers AutoencoderKL folder as a `DiffusersKLVAE` on device, in eval mode.

    image_size overrides the config's sample_size (an int or (H, W), multiples of the downsampling factor);
    sigma is the fixed standard deviation of p(x | z) on [0, 1] images.
    """
    folder = Path(folder)
    config = diffusers_config(folder, image_size, sigma)
    model = DiffusersKLVAE.from_config(config, folder)
    return model.to(torch.device(device)).eval()


__all__ = ["DiffusersKLConfig", "DiffusersKLVAE", "diffusers_config", "load_autoencoder_kl", "load_diffusers_kl"]
