"""What every diffusers adapter (AutoencoderKL, AutoencoderTiny / DC, VQModel) reads the same way.

    cls = diffusers_class("VQModel")                        # ForeignModelError when diffusers is missing
    height, width = image_hw(size, factor, where)           # a size the encoder's downsampling divides
    channels = image_channels(raw, where)                   # in_channels, equal to out_channels
    vae = load_diffusers_module(folder, "VQModel")          # float32, eval, every weight matched

Every check raises ForeignModelError naming the file and what is wrong, before anything large is allocated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from explorer.models.foreign.detect import CONFIG_NAME, DIFFUSERS_WEIGHTS, detect_format
from explorer.models.foreign.errors import ForeignModelError

MAX_IMAGE_SIDE = 4096  # pixels a side, for any diffusers autoencoder


def diffusers_class(name: str) -> Any:
    """diffusers' model class `name` (e.g. "AutoencoderKL"); ForeignModelError when diffusers is not installed."""
    try:
        import diffusers  # optional: needed only to load a diffusers folder
    except ImportError as exc:
        raise ForeignModelError(f"loading a diffusers {name} needs diffusers: pip install diffusers ({exc})") from None
    return getattr(diffusers, name)


def image_hw(size: int | tuple[int, int] | list[int], factor: int, where: Path) -> tuple[int, int]:
    """(height, width) of an image size (an int or (H, W)) that the encoder's downsampling `factor` divides and
    that is at most MAX_IMAGE_SIDE a side; ForeignModelError naming `where` otherwise."""
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if not 0 < height <= MAX_IMAGE_SIDE or not 0 < width <= MAX_IMAGE_SIDE:
        raise ForeignModelError(f"{where}: image size {height}x{width} is outside 1 to {MAX_IMAGE_SIDE} pixels a side")
    if height % factor or width % factor:
        raise ForeignModelError(f"{where}: image size {height}x{width} is not a multiple of the downsampling "
                                f"factor {factor}; pass another image_size")
    return height, width


def image_channels(raw: dict[str, Any], where: Path) -> int:
    """The config's in_channels (default 3), which must equal its out_channels: the explorer reconstructs images."""
    channels = int(raw.get("in_channels", 3))
    if int(raw.get("out_channels", 3)) != channels:
        raise ForeignModelError(f"{where}: in_channels {channels} and out_channels {raw.get('out_channels')} differ; "
                                "the explorer needs an autoencoder of images")
    return channels


def load_diffusers_module(folder: Path, name: str) -> torch.nn.Module:
    """diffusers' own `<name>.from_pretrained(folder, use_safetensors=True)`, local files only, float32, eval;
    ForeignModelError naming missing or unexpected weights (diffusers would only warn)."""
    folder = Path(folder)
    if detect_format(folder) != "diffusers":  # refuses .bin-only and weightless folders with their own message
        raise ForeignModelError(f"{folder} is not a diffusers {name} folder")
    try:
        vae, info = diffusers_class(name).from_pretrained(str(folder), use_safetensors=True, local_files_only=True,
                                                          low_cpu_mem_usage=False,  # no accelerate needed
                                                          output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise ForeignModelError(f"{folder}: diffusers could not load this {name} ({DIFFUSERS_WEIGHTS}): {exc}") from None
    # diffusers only warns about weights the config needs but the file lacks (left random) or vice versa
    for what in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        names = list(info.get(what) or [])
        if names:
            raise ForeignModelError(f"{folder / DIFFUSERS_WEIGHTS} does not match {CONFIG_NAME}: "
                                    f"{what.replace('_', ' ')} {names[:4]}{' ...' if len(names) > 4 else ''}")
    return vae.float().eval()


__all__ = ["MAX_IMAGE_SIDE", "diffusers_class", "image_channels", "image_hw", "load_diffusers_module"]
