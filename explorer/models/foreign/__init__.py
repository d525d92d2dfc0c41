"""VAEs trained elsewhere, loaded as ordinary explorer models (`explorer.models.base.VAE`).

The ways in, each a module: `diffusers_kl` (a diffusers AutoencoderKL folder with safetensors weights),
`single_file` (an original-layout AutoencoderKL .safetensors, as A1111 / ComfyUI keep them, with a shipped config
from `configs/`), `diffusers_plain` (AutoencoderTiny / AutoencoderDC folders: a plain latent, no posterior),
`diffusers_vq` (VQModel folders: a grid of codebook indices; the three diffusers ways share `diffusers_loading`),
`onnx_pair` (encoder.onnx + decoder.onnx + onnx_vae.json, run by onnxruntime), `optimum_onnx` (Optimum's
vae_encoder/model.onnx + vae_decoder/model.onnx, the latent's scaling from their metadata_props) and
`adapter` (a Python file
defining `load_vae(device)`, loaded only when trusted). `detect` tells them apart from file names and small
JSON files without importing torch; pickled files (.pt, .pth, .pkl, .ckpt, .bin, .pt2, pythae folders) are
refused with the accepted formats and how to convert.

This package imports nothing above explorer.models (no checkpoint, analysis, training or ui). Importing it
is cheap: the loaders (torch, onnx, diffusers) are imported when `load_foreign` is called.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.models.foreign.detect import FORMATS, describe_model_path, detect_format
from explorer.models.foreign.errors import ACCEPTED_FORMATS, ForeignModelError

if TYPE_CHECKING:
    import torch

    from explorer.models.base import VAE


def load_foreign(path: str | Path, device: "torch.device | str" = "cpu", trusted_code: Collection[str | Path] = (),
                 image_size: int | tuple[int, int] | None = None, preset: str | None = None,
                 dtype: "torch.dtype | str | None" = None) -> "VAE":
    """See `explorer.models.foreign.loader.load_foreign` (imported here on first call)."""
    from explorer.models.foreign.loader import load_foreign as load  # lazy: the loaders import torch, the picker must not

    return load(path, device, trusted_code, image_size, preset, dtype)


__all__ = ["ACCEPTED_FORMATS", "FORMATS", "ForeignModelError", "describe_model_path", "detect_format", "load_foreign"]
