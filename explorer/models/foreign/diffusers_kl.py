"""A diffusers `AutoencoderKL` folder (as `save_pretrained` writes it) as an explorer `VAE`.

Ranges and spaces:
- encode: images [0, 1] -> [-1, 1] -> `latent_dist`; the posterior is over the UNSCALED latent (B, C_lat, h, w),
  so KL and ELBO are those of the VAE as trained.
- codes (sliders, prior draws, maps) live in the scaled space diffusers' pipelines use (`LatentScaling`):
  code = (z - shift_factor) * scaling_factor, or per channel (z - latents_mean) * scaling_factor / latents_std
  where the config has latents_mean / latents_std.
- precision: float32 unless a dtype is asked for; float16 is refused in favour of float32 when the config says
  `force_upcast` (SDXL's VAE overflows in float16), and the config records the dtype used.
- decode: p(x | z) is Gaussian on [0, 1] with mean (decoder sample + 1) / 2 and a fixed, stated sigma.
- tiles: a folder this project trained on crops (its training record, `teacher.json`, names the crop size) encodes
  and decodes larger images in tiles of that size with diffusers' tiling (overlapping by a quarter, blended), as it
  was trained: a whole photograph at once, its GroupNorm layers normalise over statistics it never saw, 2.7 to 5 dB
  further from the photograph (references/teacher_locality.py). Any other folder runs whole, as diffusers does.

diffusers is optional and imported only when a folder is loaded. Only local folders with safetensors weights
are read (never a hub name, never a pickled .bin).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from explorer.distributions import DiagonalGaussian, GaussianLikelihood
from explorer.models.base import Capabilities, VAEConfig
from explorer.models.foreign.common import ScaledLatentConfig, ScaledLatentVAE
from explorer.models.foreign.detect import CONFIG_NAME, TRAINING_RECORD, read_small_json, trained_tile_px
from explorer.models.foreign.diffusers_loading import (
    MAX_IMAGE_SIDE, diffusers_class, image_channels, image_hw, load_diffusers_module)
from explorer.models.foreign.errors import ForeignModelError
from explorer.models.foreign.presets import ALTERNATIVE, CONFIGS, PRESET_NAMES
from explorer.models.foreign.single_file import read_single_file
from explorer.models.latent_scaling import channel_stats
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class DiffusersKLConfig(ScaledLatentConfig):
    """An AutoencoderKL as the explorer sees it (scaling_factor, shift_factor, latents_mean, latents_std: its
    config.json's, with None there meaning 0 or none)."""

    force_upcast: bool = True  # diffusers' config.force_upcast: float16 overflows, run in float32 instead
    dtype: str = "float32"  # the dtype the autoencoder runs in ("float32", "float16", "bfloat16")
    # the shipped config (explorer/models/foreign/configs/<preset>) a single-file checkpoint was loaded with:
    # "sd1", "sdxl", "sd3" or "flux"; "" for a diffusers folder, whose own config.json says everything
    preset: str = ""
    preset_by_default: bool = False  # the preset was not chosen by the user (the weights cannot tell SD 1.x / SDXL)
    # images larger than this (px a side) are encoded and decoded in tiles of it (diffusers' tiling); 0: whole
    tile_px: int = 0

    def describes(self) -> str:
        return "an AutoencoderKL"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.preset and self.preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {sorted(PRESET_NAMES)}, got {self.preset!r}")
        if self.tile_px < 0 or self.tile_px % self.downsampling:
            raise ValueError(f"tile_px must be 0 or a multiple of the downsampling factor {self.downsampling}, "
                             f"got {self.tile_px}")

    @property
    def downsampling(self) -> int:
        """Image pixels per latent cell along a side."""
        return self.input_shape[1] // self.latent_shape[1]

    def scaling_note(self) -> str:
        """One line for the page beside the image: which scaling is used and where it came from, e.g.
        "SD 1.x scaling 0.18215 (default: the weights cannot tell SD 1.x from SDXL, 0.13025)"."""
        text = self.scaling.describe()
        if not self.preset:
            return f"{text} (from config.json)"
        name = PRESET_NAMES[self.preset]
        how = "chosen" if not self.preset_by_default else "by default"
        return f"{name} preset, {how}: {text}; the weights cannot tell it from {ALTERNATIVE[self.preset]}"


# What config.json may ask for before anything is built: each size is checked against a bound, and the
# parameter count the config implies against MAX_PARAMETERS, so an absurd size is refused before allocation.
REQUIRED_KEYS = ("in_channels", "out_channels", "latent_channels", "block_out_channels", "layers_per_block")
MAX_CHANNELS = 4096  # any channel count (SD's VAE: 512)
MAX_BLOCKS = 8  # len(block_out_channels) (SD's VAE: 4)
MAX_LAYERS = 16  # layers_per_block (SD's VAE: 2)
MAX_PARAMETERS = 1_000_000_000  # 4 GB of float32 (SD's VAE: 84 million)
BLOCK_TYPES = {"down_block_types": "DownEncoderBlock2D", "up_block_types": "UpDecoderBlock2D"}


def _positive_int(raw: dict[str, Any], key: str, bound: int, path: Path) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= bound:
        raise ForeignModelError(f"{path}: {key!r} must be an integer from 1 to {bound}, got {value!r}")
    return value


def estimated_parameters(block_out_channels: list[int], layers_per_block: int, in_channels: int, latent_channels: int) -> int:
    """About how many weights an AutoencoderKL of this config has (3x3 convs of the encoder's and decoder's
    resnet blocks dominate; within 2x of diffusers' count), computed from the config alone."""
    total = 0
    for i, c in enumerate(block_out_channels):
        previous = block_out_channels[i - 1] if i else block_out_channels[0]
        total += 9 * (previous * c + c * c) + 9 * c * c * 2 * (layers_per_block - 1)  # encoder resnets
        total += 9 * c * c * 2 * (layers_per_block + 1)  # decoder resnets (one more per block)
        total += 9 * c * c  # down / up sampling conv
    top = block_out_channels[-1]
    total += 2 * (4 * 9 * top * top + 4 * top * top)  # mid blocks: two resnets and attention, encoder and decoder
    total += 9 * (in_channels + 2 * latent_channels) * (block_out_channels[0] + top)
    return total


def check_diffusers_config(raw: Any, path: Path) -> None:
    """Refuse a config.json whose values have the wrong type or sizes beyond the bounds above, naming the file
    and the key, before diffusers builds (and allocates) anything."""
    if not isinstance(raw, dict):
        raise ForeignModelError(f"{path} must hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ForeignModelError(f"{path}: {missing} missing (a config written by AutoencoderKL.save_pretrained has them)")
    for key in ("in_channels", "out_channels", "latent_channels"):
        _positive_int(raw, key, MAX_CHANNELS, path)
    layers = _positive_int(raw, "layers_per_block", MAX_LAYERS, path)
    blocks = raw["block_out_channels"]
    if (not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 < c <= MAX_CHANNELS for c in blocks)):
        raise ForeignModelError(f"{path}: 'block_out_channels' must be a list of 1 to {MAX_BLOCKS} integers from 1 "
                                f"to {MAX_CHANNELS}, got {blocks!r}")
    for key, expected in BLOCK_TYPES.items():
        if key in raw and (not isinstance(raw[key], list) or len(raw[key]) != len(blocks)
                           or any(t != expected for t in raw[key])):
            raise ForeignModelError(f"{path}: {key!r} must list {len(blocks)} x {expected!r} (one per block), "
                                    f"got {raw[key]!r}")
    groups = raw.get("norm_num_groups", 32)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or any(c % groups for c in blocks):
        raise ForeignModelError(f"{path}: 'norm_num_groups' must be a positive integer dividing every "
                                f"block_out_channels {blocks}, got {groups!r}")
    size = raw.get("sample_size", 32)
    sides = [size] if isinstance(size, int) else size if isinstance(size, list) and len(size) == 2 else None
    if sides is None or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_SIDE for v in sides):
        raise ForeignModelError(f"{path}: 'sample_size' must be an integer (or [H, W]) from 1 to {MAX_IMAGE_SIDE}, "
                                f"got {size!r}")
    for key in ("scaling_factor", "shift_factor"):
        value = raw.get(key)
        if value is None and key == "shift_factor":
            continue
        if key in raw and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise ForeignModelError(f"{path}: {key!r} must be a finite number, got {value!r}")
    for key in ("force_upcast", "use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"):
        if key in raw and not isinstance(raw[key], bool):
            raise ForeignModelError(f"{path}: {key!r} must be true or false, got {raw[key]!r}")
    if "act_fn" in raw and raw["act_fn"] not in ("silu", "swish", "mish", "gelu", "relu"):
        raise ForeignModelError(f"{path}: 'act_fn' must be one of silu, swish, mish, gelu, relu, got {raw['act_fn']!r}")
    count = estimated_parameters(blocks, layers, raw["in_channels"], raw["latent_channels"])
    if count > MAX_PARAMETERS:
        raise ForeignModelError(f"{path}: this config makes a model of about {count:,} parameters, over the "
                                f"{MAX_PARAMETERS:,} the explorer loads")


def run_dtype(dtype: torch.dtype | str | None, force_upcast: bool) -> torch.dtype:
    """The dtype to run in: float32 by default, and float32 for float16 when force_upcast (as diffusers'
    pipelines upcast such a VAE before decoding); bfloat16 keeps float32's range and is kept."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ForeignModelError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
        dtype = DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise ForeignModelError(f"dtype {dtype} is not one of {sorted(DTYPES)}")
    return torch.float32 if dtype == torch.float16 and force_upcast else dtype


def kl_config_from_raw(raw: Any, where: Path, source: str, image_size: int | tuple[int, int] | None = None,
                       sigma: float = 0.1, dtype: torch.dtype | str | None = None, preset: str = "",
                       preset_by_default: bool = False) -> DiffusersKLConfig:
    """The explorer config of an AutoencoderKL config dict (`where` names it in messages; `source` is the folder or
    file the weights come from). ForeignModelError for values out of bounds or inconsistent."""
    check_diffusers_config(raw, where)
    factor = 2 ** (len(raw.get("block_out_channels", (64,))) - 1)
    height, width = image_hw(image_size if image_size is not None else raw.get("sample_size", 32), factor, where)
    channels = image_channels(raw, where)
    shift = raw.get("shift_factor")
    latent_channels = int(raw.get("latent_channels", 4))
    force_upcast = bool(raw.get("force_upcast", True))
    try:
        mean, std = channel_stats(raw, latent_channels, str(where))
        return DiffusersKLConfig(
            input_shape=(channels, height, width),
            latent_shape=(latent_channels, height // factor, width // factor),
            scaling_factor=float(raw.get("scaling_factor", 0.18215)),
            shift_factor=float(shift) if shift is not None else 0.0,
            latents_mean=mean, latents_std=std, force_upcast=force_upcast,
            dtype=str(run_dtype(dtype, force_upcast)).removeprefix("torch."),
            preset=preset, preset_by_default=preset_by_default, sigma=sigma, source=source)
    except (TypeError, ValueError) as exc:
        raise ForeignModelError(f"{where}: {exc}") from None


def diffusers_config(folder: Path, image_size: int | tuple[int, int] | None = None, sigma: float = 0.1,
                     dtype: torch.dtype | str | None = None) -> DiffusersKLConfig:
    """The explorer config of a diffusers folder, from its config.json alone (no torch weights read)."""
    raw = read_small_json(folder / CONFIG_NAME)
    config = kl_config_from_raw(raw, folder / CONFIG_NAME, str(folder), image_size, sigma, dtype)
    tile_px = trained_tile_px(folder)
    try:
        return replace(config, tile_px=tile_px)
    except ValueError as exc:
        raise ForeignModelError(f"{folder / TRAINING_RECORD}: {exc}") from None


class DiffusersKLVAE(ScaledLatentVAE):
    """A wrapped `diffusers.AutoencoderKL` (held as `self.vae`)."""

    family = "diffusers_kl"
    config_class = DiffusersKLConfig
    code_name = "scaled posterior mean"
    config: DiffusersKLConfig

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        """A foreign spatial model that, being convolutional, takes any multiple of its downsampling factor."""
        base = super().config_capabilities(config)
        factor = config.downsampling if isinstance(config, DiffusersKLConfig) else 0
        return replace(base, size_multiple=int(factor))

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "DiffusersKLVAE":
        """Load the folder's weights (folder defaults to config.source)."""
        if not isinstance(config, DiffusersKLConfig):
            raise TypeError(f"{type(config).__name__} is not a DiffusersKLConfig")
        folder = Path(folder or config.source)
        if config.preset:  # a single-file checkpoint, rebuilt with the same preset
            return load_single_file(folder, preset=None if config.preset_by_default else config.preset,
                                    image_size=config.input_shape[1:],
                                    sigma=config.sigma, dtype=config.dtype)
        vae = load_diffusers_module(folder, "AutoencoderKL")
        if config.tile_px:
            vae.enable_tiling()
            vae.tile_sample_min_size = config.tile_px
            vae.tile_latent_min_size = config.tile_px // config.downsampling
        return cls(config, vae if config.dtype == "float32" else vae.to(DTYPES[config.dtype]))

    @contextmanager
    def whole_frames(self) -> Iterator[None]:
        """Within it, images of any size are encoded and decoded in one piece, as diffusers runs a folder by
        default (not thread-safe: for scoring, not for a shared model serving pages)."""
        tiling = self.vae.use_tiling
        self.vae.use_tiling = False
        try:
            yield
        finally:
            self.vae.use_tiling = tiling

    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) over unscaled latents (B, C_lat, h, w), in float32."""
        dist = self.vae.encode(self.to_model_range(x).to(DTYPES[self.config.dtype])).latent_dist
        return DiagonalGaussian(dist.mean.float(), dist.logvar.float())

    def decode(self, z: Tensor) -> GaussianLikelihood:
        """Unscaled latents (B, C_lat, h, w) -> Gaussian over images (B, C, H, W) in [0, 1], in float32."""
        sample = self.vae.decode(z.to(DTYPES[self.config.dtype])).sample.float()  # (B, C, H, W) in about [-1, 1]
        return GaussianLikelihood(self.from_model_range(sample), self.log_scale)


    def likelihood_description(self) -> str:
        return super().likelihood_description() + " (the diffusers decoder's sample)"


def load_diffusers_kl(folder: str | Path, device: torch.device | str = "cpu", image_size: int | tuple[int, int] | None = None,
                      sigma: float = 0.1, dtype: torch.dtype | str | None = None) -> DiffusersKLVAE:
    """A diffusers AutoencoderKL folder as a `DiffusersKLVAE` on device, in eval mode.

    image_size overrides the config's sample_size (an int or (H, W), multiples of the downsampling factor);
    sigma is the fixed standard deviation of p(x | z) on [0, 1] images; dtype (default float32) is the one the
    autoencoder runs in, float16 becoming float32 where the config says force_upcast (`config.dtype` says which).
    """
    folder = Path(folder)
    config = diffusers_config(folder, image_size, sigma, dtype)
    model = DiffusersKLVAE.from_config(config, folder)
    return model.to(torch.device(device)).eval()


def load_single_file(path: str | Path, device: torch.device | str = "cpu", preset: str | None = None,
                     image_size: int | tuple[int, int] | None = None, sigma: float = 0.1,
                     dtype: torch.dtype | str | None = None) -> DiffusersKLVAE:
    """An original-layout AutoencoderKL safetensors file (explorer.models.foreign.single_file) as a
    `DiffusersKLVAE` on device, in eval mode.

    preset: "sd1" | "sdxl" | "sd3" | "flux" | None (sd1 for 4 latent channels, flux for 16); image_size: an int
    or (H, W) overriding the preset's sample_size; sigma: the fixed std of p(x | z) on [0, 1] images; dtype:
    as in `load_diffusers_kl` (float16 runs in float32 where the preset says force_upcast).
    ForeignModelError for pickles, non-safetensors files, missing keys, shapes that do not fit, a preset that
    does not fit.
    """
    raw, name, by_default, vae = read_single_file(path, diffusers_class("AutoencoderKL"), preset)
    config = kl_config_from_raw(raw, CONFIGS / name / CONFIG_NAME, str(path), image_size, sigma, dtype,
                                preset=name, preset_by_default=by_default)
    if config.dtype != "float32":  # diffusers warns on every .to(dtype), even a no-op one
        vae = vae.to(DTYPES[config.dtype])
    return DiffusersKLVAE(config, vae).to(torch.device(device)).eval()


__all__ = ["DTYPES", "DiffusersKLConfig", "DiffusersKLVAE", "diffusers_config", "kl_config_from_raw",
           "load_diffusers_kl", "load_single_file", "run_dtype"]
