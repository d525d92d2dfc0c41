"""One entry point for every foreign format: detect it, then load it with its own loader."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import torch

from explorer.models.base import VAE
from explorer.models.foreign.adapter import load_adapter
from explorer.models.foreign.detect import CONFIG_NAME, detect_format, read_small_json
from explorer.models.foreign.diffusers_kl import load_diffusers_kl, load_single_file
from explorer.models.foreign.diffusers_plain import load_plain
from explorer.models.foreign.diffusers_vq import VQ_CLASS, load_vq
from explorer.models.foreign.errors import ForeignModelError
from explorer.models.foreign.onnx_pair import load_onnx_pair
from explorer.models.foreign.optimum_onnx import load_optimum


def load_foreign(path: str | Path, device: torch.device | str = "cpu", trusted_code: Collection[str | Path] = (),
                 image_size: int | tuple[int, int] | None = None, preset: str | None = None,
                 dtype: torch.dtype | str | None = None) -> VAE:
    """A diffusers AutoencoderKL / AutoencoderTiny / AutoencoderDC / VQModel folder, an original-layout AutoencoderKL
    .safetensors file, an ONNX pair folder, an ONNX folder in Optimum's layout or a trusted adapter .py as a `VAE`
    on device ('cpu', 'cuda', ...; resolve 'auto' first), in eval mode.

    image_size (diffusers folders and single files): an int or (H, W) overriding the config's sample size.
    preset (single files only): "sd1", "sdxl", "sd3" or "flux", the shipped config whose scaling to use (default:
    sd1 for 4 latent channels, flux for 16; the model's `config.scaling_note()` says which it used).
    dtype (AutoencoderKL only): float32 by default; float16 runs in float32 where the config says force_upcast.

    ForeignModelError for a native checkpoint (use explorer.checkpoint.from_pretrained), pickles and anything else.
    """
    path = Path(path)
    kind = detect_format(path)
    if preset is not None and kind != "single_file":
        raise ForeignModelError(f"{path}: preset={preset!r} only applies to single-file checkpoints; a folder's "
                                f"{CONFIG_NAME} gives its own scaling")
    if kind == "diffusers":
        name = read_small_json(path / CONFIG_NAME).get("_class_name")
        if name == VQ_CLASS:
            return load_vq(path, device, image_size=image_size)
        if name != "AutoencoderKL":
            return load_plain(path, device, image_size=image_size)

        return load_diffusers_kl(path, device, image_size=image_size, dtype=dtype)
    if kind == "single_file":
        return load_single_file(path, device, preset=preset, image_size=image_size, dtype=dtype)
    if kind == "onnx":
        return load_onnx_pair(path, device)
    if kind == "optimum":
        return load_optimum(path, device)
    if kind == "adapter":
        return load_adapter(path, device, trusted_code)
    raise ForeignModelError(f"{path} is a native explorer checkpoint: load it with explorer.checkpoint.from_pretrained")
