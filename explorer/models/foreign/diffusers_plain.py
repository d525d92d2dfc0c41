"""diffusers autoencoders with no posterior: `AutoencoderTiny` (TAESD) and `AutoencoderDC` (DC-AE) folders.

Their encoders give a plain latent, not a distribution, so the model declares `Capabilities(posterior=False)`:
`encode` returns a `PlainLatent` whose `.mean` is the latent, which reconstruction, walks, maps and previews use;
the ELBO, IWAE bound and KL refuse (see `VAE.require_posterior`). Images are read and written in [-1, 1] (TAESD
maps to its own [0, 1] inside diffusers' wrapper).

Codes are the pipeline's scaled latent, `(z - shift_factor) * scaling_factor` (`LatentScaling`). TAESD's own
latent is already in SD's scaled space (its config says scaling_factor 1.0), so a TAESD code is its latent as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from explorer.distributions import GaussianLikelihood
from explorer.models.base import Capabilities, VAEConfig
from explorer.models.foreign.common import ForeignConfig, ScaledLatentConfig, ScaledLatentVAE
from explorer.models.foreign.detect import CONFIG_NAME, read_small_json
from explorer.models.foreign.diffusers_loading import (
    diffusers_class, image_channels, image_hw, load_diffusers_module)
from explorer.models.foreign.errors import ForeignModelError

PLAIN_CLASSES = ("AutoencoderTiny", "AutoencoderDC")
DEFAULT_IMAGE_SIDE = 512  # neither config has a sample_size; TAESD and DC-AE are used at 512 px and up
MAX_PARAMETERS = 2_000_000_000  # DC-AE f32c32 is about 320 million; 8 GB of float32 is refused before allocation


class PlainLatent:
    """A deterministic encoder's output, posing as a posterior for the code paths that only read `.mean`.

    Every draw is the latent itself; `log_prob`, `kl` and `kl_at` raise, since q(z | x) does not exist."""

    has_analytic_kl = False

    def __init__(self, latent: Tensor):
        self.mean = latent  # (B, *latent_shape)

    def mode(self) -> Tensor:
        return self.mean

    def rsample(self, generator: Any = None) -> Tensor:
        return self.mean

    def sample(self, generator: Any = None) -> Tensor:
        return self.mean

    def expand_draws(self, k: int) -> "PlainLatent":
        return PlainLatent(self.mean.unsqueeze(1).expand(-1, k, *self.mean.shape[1:]))

    def _none(self, what: str) -> ValueError:
        return ValueError(f"{what} is undefined: this encoder gives a plain latent, not a posterior q(z | x)")

    def log_prob(self, z: Tensor) -> Tensor:
        raise self._none("log q(z | x)")

    def kl(self) -> Tensor:
        raise self._none("KL(q || p)")

    def kl_at(self, z: Tensor) -> Tensor:
        raise self._none("KL(q || p)")


@dataclass
class PlainLatentConfig(ScaledLatentConfig):
    """An AutoencoderTiny or AutoencoderDC as the explorer sees it: a scalar scaling (AutoencoderTiny has a
    shift_factor, AutoencoderDC none), no per-channel statistics."""

    diffusers_class: str = "AutoencoderTiny"  # one of PLAIN_CLASSES

    def describes(self) -> str:
        return f"an {self.diffusers_class}"

    def __post_init__(self) -> None:
        if self.diffusers_class not in PLAIN_CLASSES:
            raise ValueError(f"diffusers_class must be one of {PLAIN_CLASSES}, got {self.diffusers_class!r}")
        super().__post_init__()


def _downsampling(raw: dict[str, Any], name: str, where: Path, preview_decoder: bool = False) -> int:
    """The image side / latent side of the config (both classes downsample by 2 per block after the first).
    preview_decoder: also accept an AutoencoderTiny whose decoder stops one upsampling short (a half-size preview
    decoder that vae-distill makes), to export it; the explorer never loads one as a model."""
    blocks = raw.get("encoder_block_out_channels", (64, 64, 64, 64) if name == "AutoencoderTiny"
                     else (128, 256, 512, 512, 1024, 1024))
    if not isinstance(blocks, (list, tuple)) or not blocks:
        raise ForeignModelError(f"{where}: 'encoder_block_out_channels' must be a non-empty list, got {blocks!r}")
    factor = 2 ** (len(blocks) - 1)
    if name == "AutoencoderTiny":
        up = raw.get("upsampling_scaling_factor", 2)
        decoder = raw.get("decoder_block_out_channels", blocks)
        undoes = isinstance(up, int) and isinstance(decoder, (list, tuple)) and up ** (len(decoder) - 1) == factor
        half = isinstance(up, int) and isinstance(decoder, (list, tuple)) and 2 * up ** (len(decoder) - 1) == factor
        if not undoes and not (preview_decoder and half):
            why = (" (a half-size preview decoder made by vae-distill --decoder-factor: the pages use it as the "
                   "distilled preview of its teacher)") if half else ""
            raise ForeignModelError(f"{where}: the decoder (upsampling_scaling_factor {up!r}, "
                                    f"{len(decoder) if isinstance(decoder, (list, tuple)) else '?'} blocks) does not "
                                    f"undo the encoder's downsampling by {factor}{why}; the explorer needs an "
                                    "autoencoder")
    return factor


def _build_skeleton(cls: Any, raw: dict[str, Any], where: Path) -> int:
    """Build the model on the meta device (no memory) to check that diffusers accepts the config; its parameter
    count. ForeignModelError naming the config when diffusers refuses it or the model is too big."""
    try:
        with torch.device("meta"):
            skeleton = cls.from_config(raw)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError, AssertionError) as exc:
        raise ForeignModelError(f"{where}: diffusers cannot build a {cls.__name__} from this config "
                                f"({type(exc).__name__}: {exc})") from None
    count = sum(p.numel() for p in skeleton.parameters())
    if count > MAX_PARAMETERS:
        raise ForeignModelError(f"{where}: this config makes a model of {count:,} parameters, over the "
                                f"{MAX_PARAMETERS:,} the explorer loads")
    return count


def plain_config(folder: Path, image_size: int | tuple[int, int] | None = None, sigma: float = 0.1,
                 preview_decoder: bool = False) -> PlainLatentConfig:
    """The explorer config of an AutoencoderTiny / AutoencoderDC folder from its config.json (checked by building the
    model on the meta device, which allocates nothing). preview_decoder: see `_downsampling`."""
    where = folder / CONFIG_NAME
    raw = read_small_json(where)
    name = raw.get("_class_name") if isinstance(raw, dict) else None
    if name not in PLAIN_CLASSES:
        raise ForeignModelError(f"{where} describes a diffusers {name!r}, not one of {PLAIN_CLASSES}")
    _build_skeleton(diffusers_class(name), raw, where)
    factor = _downsampling(raw, name, where, preview_decoder)
    height, width = image_hw(image_size if image_size is not None else DEFAULT_IMAGE_SIDE, factor, where)
    # a DC-AE config names no out_channels (its decoder writes in_channels)
    channels = image_channels(raw, where) if name == "AutoencoderTiny" else int(raw.get("in_channels", 3))
    latent_channels = raw.get("latent_channels", 4 if name == "AutoencoderTiny" else 32)
    scaling, shift = raw.get("scaling_factor", 1.0), raw.get("shift_factor", 0.0)
    for key, value in (("scaling_factor", scaling), ("shift_factor", shift)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ForeignModelError(f"{where}: {key!r} must be a finite number, got {value!r}")
    try:
        return PlainLatentConfig(input_shape=(channels, height, width),
                                 latent_shape=(int(latent_channels), height // factor, width // factor),
                                 diffusers_class=name, scaling_factor=float(scaling), shift_factor=float(shift or 0.0),
                                 sigma=sigma, source=str(folder))
    except (TypeError, ValueError) as exc:
        raise ForeignModelError(f"{where}: {exc}") from None


class PlainLatentVAE(ScaledLatentVAE):
    """A wrapped `diffusers.AutoencoderTiny` or `AutoencoderDC` (held as `self.vae`)."""

    family = "diffusers_plain"
    config_class = PlainLatentConfig
    code_name = "scaled latent"
    posterior_name = "none (a deterministic encoder)"
    config: PlainLatentConfig

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        spatial = isinstance(config, ForeignConfig) and len(config.latent_shape) == 3
        return Capabilities(trainable=False, spatial_code=spatial, posterior=False)

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "PlainLatentVAE":
        """Load the folder's weights (folder defaults to config.source)."""
        if not isinstance(config, PlainLatentConfig):
            raise TypeError(f"{type(config).__name__} is not a PlainLatentConfig")
        return cls(config, load_diffusers_module(Path(folder or config.source), config.diffusers_class))

    def encode(self, x: Tensor) -> PlainLatent:
        """Images (B, C, H, W) in [0, 1] -> the encoder's latent (B, C_lat, h, w) as a `PlainLatent`."""
        out = self.vae.encode(self.to_model_range(x))
        return PlainLatent(out.latents if self.config.diffusers_class == "AutoencoderTiny" else out.latent)

    def decode(self, z: Tensor) -> GaussianLikelihood:
        """Latents (B, C_lat, h, w) -> Gaussian over images (B, C, H, W) in [0, 1] with the stated sigma."""
        sample = self.vae.decode(z).sample  # (B, C, H, W) in about [-1, 1]
        return GaussianLikelihood(self.from_model_range(sample), self.log_scale)


    def likelihood_description(self) -> str:
        return super().likelihood_description() + f" (the {self.config.diffusers_class} decoder's sample)"


def load_plain(folder: str | Path, device: torch.device | str = "cpu", image_size: int | tuple[int, int] | None = None,
               sigma: float = 0.1, preview_decoder: bool = False) -> PlainLatentVAE:
    """An AutoencoderTiny or AutoencoderDC folder as a `PlainLatentVAE` on device, in eval mode (image_size: an int or
    (H, W), default 512, multiples of the downsampling factor; sigma: the fixed std of p(x | z) on [0, 1] images).
    preview_decoder: accept a half-size preview decoder, for export only (its decode is half the image's size)."""
    folder = Path(folder)
    config = plain_config(folder, image_size, sigma, preview_decoder)
    return PlainLatentVAE.from_config(config, folder).to(torch.device(device)).eval()


__all__ = ["PLAIN_CLASSES", "PlainLatent", "PlainLatentConfig", "PlainLatentVAE", "load_plain", "plain_config"]
