"""One entry point for every foreign format: detect it, then load it with its own loader."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import torch

from explorer.models.base import VAE
from explorer.models.foreign.detect import detect_format
from explorer.models.foreign.errors import ForeignModelError


def load_foreign(path: str | Path, device: torch.device | str = "cpu", trusted_code: Collection[str | Path] = (),
                 image_size: int | tuple[int, int] | None = None) -> VAE:
    """A diffusers AutoencoderKL folder, an ONNX pair folder or a trusted adapter .py as a `VAE` on device
    ('cpu', 'cuda', ...; resolve 'auto' first), in eval mode. image_size only applies to diffusers folders.

    ForeignModelError for a native checkpoint (use explorer.checkpoint.from_pretrained), pickles and anything else.
    """
    path = Path(path)
    kind = detect_format(path)
    if kind == "diffusers":
        from explorer.models.foreign.diffusers_kl import load_diffusers_kl

        return load_diffusers_kl(path, device, image_size=image_size)
    if kind == "onnx":
        from explorer.models.foreign.onnx_pair import load_onnx_pair

        return load_onnx_pair(path, device)
    if kind == "adapter":
        from explorer.models.foreign.adapter import load_adapter

        return load_adapter(path, device, trusted_code)
    raise ForeignModelError(f"{path} is a native explorer checkpoint: load it with explorer.checkpoint.from_pretrained")
