"""The latent a diffusion pipeline sees, from the one a diffusers autoencoder writes, and back.

The explorer's codes (sliders, prior draws, maps, previews) live in the pipeline's space, where the latents have
about unit variance:
- with per-channel statistics (config `latents_mean` / `latents_std`, as SDXL's pipeline reads them):
  code[c] = (z[c] - latents_mean[c]) * scaling_factor / latents_std[c];
- otherwise: code = (z - shift_factor) * scaling_factor (FLUX and SD3 have a shift, SD 1.x / SDXL a shift of 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor


STAT_KEYS = ("latents_mean", "latents_std")


@dataclass(frozen=True)
class LatentScaling:
    """scaling_factor, shift_factor and optional per-channel mean / std, as a diffusers config gives them."""

    scaling_factor: float = 1.0
    shift_factor: float = 0.0
    latents_mean: tuple[float, ...] = ()  # one per latent channel, or () when the config has none
    latents_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.scaling_factor == 0 or not math.isfinite(self.scaling_factor):
            raise ValueError(f"scaling_factor must be a finite non-zero number, got {self.scaling_factor}")
        if len(self.latents_mean) != len(self.latents_std):
            raise ValueError(f"latents_mean has {len(self.latents_mean)} values and latents_std "
                             f"{len(self.latents_std)}: give both, one per latent channel, or neither")
        if any(not s > 0 for s in self.latents_std):
            raise ValueError(f"latents_std must be positive, got {list(self.latents_std)}")

    @property
    def per_channel(self) -> bool:
        return bool(self.latents_mean)

    def describe(self) -> str:
        """The formula in words, for pages and cards."""
        if self.per_channel:
            return f"code = (z - latents_mean) * {self.scaling_factor:g} / latents_std (per channel)"
        if self.shift_factor:
            return f"code = (z - {self.shift_factor:g}) * {self.scaling_factor:g}"
        return f"code = z * {self.scaling_factor:g}"

    def metadata(self) -> dict[str, str]:
        """The string metadata that records this scaling (ONNX metadata_props, a latent file's safetensors metadata):
        scaling_factor and shift_factor (repr: exact), `scaling` in words, and latents_mean / latents_std as JSON
        lists when the statistics are per channel."""
        out = {"scaling_factor": repr(float(self.scaling_factor)), "shift_factor": repr(float(self.shift_factor)),
               "scaling": self.describe()}
        if self.per_channel:
            out.update({key: json.dumps(list(values)) for key, values in zip(STAT_KEYS, (self.latents_mean,
                                                                                         self.latents_std))})
        return out

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], latent_channels: int | None, where: str) -> LatentScaling:
        """The scaling `metadata()` wrote (absent keys: scaling 1, shift 0, no statistics). ValueError naming `where`
        for factors that are not numbers, or statistics that are not JSON lists of latent_channels finite numbers
        (None: as many as latents_mean holds)."""
        try:
            factors = float(meta.get("scaling_factor", "1")), float(meta.get("shift_factor", "0"))
            raw = {key: json.loads(meta[key]) for key in STAT_KEYS if key in meta}
        except (ValueError, TypeError):
            raise ValueError(f"{where}: scaling_factor / shift_factor must be numbers and latents_mean / latents_std "
                             f"JSON lists, got {meta.get('scaling_factor')!r} / {meta.get('shift_factor')!r}") from None
        if latent_channels is None:
            given = raw.get("latents_mean")
            latent_channels = len(given) if isinstance(given, list) else 0
        mean, std = channel_stats(raw, latent_channels, where)
        return cls(*factors, mean, std)

    def _stats(self, z: Tensor) -> tuple[Tensor, Tensor]:
        # (1, C, 1, 1): broadcast over a batch of (B, C, h, w) latents
        view = (1, -1) + (1,) * (z.dim() - 2)
        mean = torch.tensor(self.latents_mean, dtype=z.dtype, device=z.device).view(view)
        std = torch.tensor(self.latents_std, dtype=z.dtype, device=z.device).view(view)
        return mean, std

    def code_from_latent(self, z: Tensor) -> Tensor:
        """The autoencoder's latent (B, C, h, w) -> the pipeline's scaled latent, same shape."""
        if self.per_channel:
            mean, std = self._stats(z)
            return (z - mean) * self.scaling_factor / std
        return (z - self.shift_factor) * self.scaling_factor

    def latent_from_code(self, code: Tensor) -> Tensor:
        """The inverse of `code_from_latent`."""
        if self.per_channel:
            mean, std = self._stats(code)
            return code * std / self.scaling_factor + mean
        return code / self.scaling_factor + self.shift_factor


def channel_stats(raw: dict, latent_channels: int, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A diffusers config's `latents_mean` / `latents_std` as tuples (both () when absent or null); ValueError
    naming `where` when they are not lists of latent_channels finite numbers."""
    values = []
    for key in ("latents_mean", "latents_std"):
        value = raw.get(key)
        if value is None:
            values.append(())
            continue
        if (not isinstance(value, list) or len(value) != latent_channels
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
            raise ValueError(f"{where}: {key!r} must be null or a list of {latent_channels} finite numbers (one per "
                             f"latent channel), got {value!r}")
        values.append(tuple(float(v) for v in value))
    return values[0], values[1]


__all__ = ["LatentScaling", "STAT_KEYS", "channel_stats"]
