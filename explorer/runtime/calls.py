"""Watched encodes and decodes of explorer VAEs: `watch` with the right blocks, tile count and key chosen.

    images = watched_decode(model, code, on_progress=bar.update, token=token)   # in a worker thread
    images = watched_decode_array(model, codes, ...)     # numpy in and out, codes flat or shaped
    code = watched_encode(model, images, on_progress=..., token=...)

A diffusers AutoencoderKL (DiffusersKLVAE) is watched on its decoder's (or encoder's) blocks, once per tile when
tiling is on; any other family on all of its blocks, with the total learned from its first call at a shape.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import torch
from torch import Tensor, nn

from explorer.models.base import VAE
from explorer.models.foreign.diffusers_kl import DiffusersKLVAE
from explorer.runtime.progress import CancelToken, ProgressCallback, diffusers_tile_count, watch


def watch_target(model: VAE, part: str, shape: tuple[int, ...]) -> tuple[nn.Module, int, Hashable]:
    """(root module, calls, key) to watch for `part` ("encode" or "decode") of an input of shape."""
    if part not in ("encode", "decode"):
        raise ValueError(f"part must be 'encode' or 'decode', got {part!r}")
    key = (part, id(model), tuple(shape))
    if isinstance(model, DiffusersKLVAE):
        root = model.vae.decoder if part == "decode" else model.vae.encoder
        return root, diffusers_tile_count(model.vae, shape, part), key
    return model, 1, key


@torch.no_grad()
def watched_decode(model: VAE, code: Tensor, on_progress: ProgressCallback | None = None,
                   token: CancelToken | None = None, seed: int = 0) -> Tensor:
    """model.decode_code(code, seed): images (B, C, H, W) in [0, 1], with progress per block and cancellation
    (Cancelled) at block boundaries."""
    root, calls, key = watch_target(model, "decode", tuple(code.shape))
    with watch(root, on_progress, token, calls=calls, key=key):
        return model.decode_code(code, seed=seed)


@torch.no_grad()
def watched_encode(model: VAE, images: Tensor, on_progress: ProgressCallback | None = None,
                   token: CancelToken | None = None) -> Tensor:
    """model.encode_code(images): codes (B, *latent_shape), with progress per block and cancellation."""
    root, calls, key = watch_target(model, "encode", tuple(images.shape))
    with watch(root, on_progress, token, calls=calls, key=key):
        return model.encode_code(images)


def watched_decode_array(model: VAE, codes: np.ndarray, on_progress: ProgressCallback | None = None,
                         token: CancelToken | None = None, seed: int = 0) -> np.ndarray:
    """watched_decode for pages that hold numpy: codes (B, *latent_shape), (B, D) or one code (latent_shape or
    (D,)) -> images (B, C, H, W) float32 on the CPU."""
    z = torch.from_numpy(np.asarray(codes, dtype=np.float32)).reshape(-1, *model.latent_shape).to(model.device)
    return watched_decode(model, z, on_progress, token, seed).float().cpu().numpy()
