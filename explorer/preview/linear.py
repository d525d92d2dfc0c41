"""The linear preview: a latent -> RGB map, per-channel weights plus a bias (ComfyUI's `latent_rgb_factors`
form), fitted by least squares for any channel count, and cached by the model's weights digest.

    preview = cached_linear_preview(model, digest)           # fits on first use (seconds), then reads the cache
    rgb = preview.apply(code)                                 # (B, C, h, w) codes -> (B, 3, h, w) in [0, 1]
    preview.as_lists()                                        # {"weights": C x [r, g, b], "bias": [r, g, b], ...}

The fit: photographs that installed packages ship are cut into crops of the model's input size and encoded
(`encode_code`: the code space the pages show, e.g. diffusers' scaled latent); about 64 tiles of 8x8 code cells
are cut from the codes and decoded on their own (a tile's decode is cheap: 64 x 64 px for a factor-8 model);
each code cell, away from the tile's border where a crop's decode differs, is paired with the mean RGB of the
decoded pixels it covers (factor x factor); `torch.linalg.lstsq` solves for the (C + 1) x 3 map.
A model whose decoder takes only its own code size (every explorer family but diffusers') decodes whole codes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.analysis.teacher import psnr
from explorer.cache import entry_path, read_entry, write_entry
from explorer.models.base import VAE
from explorer.models.foreign.diffusers_kl import DiffusersKLVAE
from explorer.preview.photos import bundled_photographs
from explorer.runtime.budget import BATCH_BYTES, Budget
from explorer.runtime.memory import estimate_peak
from explorer.runtime.progress import CancelToken, Progress

CACHE_KIND = "preview"
CACHE_NAME = "linear-v1.safetensors"  # bump the version when the fit changes
# decoders that take a code of any size (fully convolutional): their tiles are decoded on their own
SIZE_FREE_DECODERS: tuple[type, ...] = (DiffusersKLVAE,)
MIN_CHANNELS, MAX_CHANNELS = 1, 64


@dataclass(frozen=True)
class LinearPreview:
    """rgb = clamp(code . weights + bias, 0, 1) per code cell; weights (C, 3), bias (3,) (3: the image's channels)."""

    weights: Tensor  # (C, out) float32
    bias: Tensor  # (out,) float32
    factor: int  # image pixels per code cell along a side (the decoder's upsampling)
    fit_psnr: float  # dB of the preview against the decoded cell means it was fitted on
    samples: int  # code cells the fit used
    seconds: float  # wall time of the whole fit (encode, decode, solve)
    solve_seconds: float = 0.0  # of which the least-squares solve

    @property
    def channels(self) -> int:
        return int(self.weights.shape[0])

    def apply(self, code: Tensor) -> Tensor:
        """Codes (B, C, h, w) (or (C, h, w)) -> images (B, out, h, w) in [0, 1] at the code's resolution (upsample
        by `factor` to show them at image size)."""
        squeeze = code.dim() == 3
        code = code.unsqueeze(0) if squeeze else code
        if code.dim() != 4 or code.shape[1] != self.channels:
            raise ValueError(f"the linear preview takes codes (B, {self.channels}, h, w), got {tuple(code.shape)}")
        w = self.weights.to(code.device, code.dtype)
        rgb = torch.einsum("bchw,co->bohw", code, w) + self.bias.to(code.device, code.dtype).view(1, -1, 1, 1)
        rgb = rgb.clamp(0.0, 1.0)
        return rgb[0] if squeeze else rgb

    def apply_numpy(self, code: np.ndarray) -> np.ndarray:
        """The same on numpy arrays (C, h, w) or (B, C, h, w), float32 out."""
        return self.apply(torch.from_numpy(np.asarray(code, dtype=np.float32))).numpy()

    def as_lists(self) -> dict[str, Any]:
        """Plain lists for the browser: rgb[o] = clamp(sum_c code[c] * weights[c][o] + bias[o], 0, 1)."""
        return {"weights": self.weights.tolist(), "bias": self.bias.tolist(), "factor": self.factor,
                "range": [0.0, 1.0], "fit_psnr": self.fit_psnr}

    def comfy_factors(self) -> dict[str, list]:
        """ComfyUI's `latent_rgb_factors` and `latent_rgb_factors_bias`, whose output it maps from [-1, 1]
        to [0, 1] ((x + 1) / 2): twice the weights, and 2 * bias - 1."""
        return {"latent_rgb_factors": (2 * self.weights).tolist(), "latent_rgb_factors_bias": (2 * self.bias - 1).tolist()}

    def to_entry(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return ({"weights": self.weights, "bias": self.bias},
                {"factor": self.factor, "fit_psnr": self.fit_psnr, "samples": self.samples, "seconds": self.seconds,
                 "solve_seconds": self.solve_seconds})

    @classmethod
    def from_entry(cls, arrays: dict[str, np.ndarray], meta: dict[str, str]) -> "LinearPreview":
        return cls(torch.from_numpy(arrays["weights"]).float(), torch.from_numpy(arrays["bias"]).float(),
                   int(meta["factor"]), float(meta["fit_psnr"]), int(meta["samples"]), float(meta["seconds"]),
                   float(meta.get("solve_seconds", 0.0)))


def photo_crops(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """n crops (n, C, H, W) in [0, 1] of the bundled photographs, round-robin over them, each at a random
    position and at full or half scale (so that crops see both detail and larger shapes)."""
    channels, height, width = shape
    photos = [image for _name, image in bundled_photographs()]  # (3, H0, W0) each
    halves: dict[int, Tensor] = {}  # half-scale photographs, made when first drawn
    crops = []
    for i in range(n):
        index = i % len(photos)
        image = photos[index]
        if torch.rand((), generator=generator) < 0.5 and min(image.shape[1:]) // 2 >= max(height, width):
            if index not in halves:
                halves[index] = F.avg_pool2d(image.unsqueeze(0), 2)[0]
            image = halves[index]
        if image.shape[1] < height or image.shape[2] < width:
            scale = max(height / image.shape[1], width / image.shape[2])
            image = F.interpolate(image.unsqueeze(0), scale_factor=scale, mode="bilinear", antialias=True,
                                  align_corners=False)[0].clamp(0, 1)
        top = int(torch.randint(0, image.shape[1] - height + 1, (), generator=generator))
        left = int(torch.randint(0, image.shape[2] - width + 1, (), generator=generator))
        crop = image[:, top:top + height, left:left + width]
        crops.append(crop.mean(0, keepdim=True) if channels == 1 else crop)
    return torch.stack(crops)


def _check_model(model: VAE) -> tuple[int, int, int, int]:
    """(channels, code h, code w, factor) of a model with a spatial code, or a ValueError naming the problem."""
    shape = tuple(model.latent_shape)
    if not model.capabilities().spatial_code or len(shape) != 3:
        raise ValueError(f"the linear preview needs a spatial (C, H, W) code; the {model.family!r} model's code has "
                         f"shape {shape}")
    channels, h, w = shape
    if not MIN_CHANNELS <= channels <= MAX_CHANNELS:
        raise ValueError(f"the linear preview fits {MIN_CHANNELS} to {MAX_CHANNELS} code channels, got {channels}")
    image_h, image_w = model.config.input_shape[1:]
    if image_h % h or image_w % w or image_h // h != image_w // w:
        raise ValueError(f"images {image_h}x{image_w} are not a whole multiple of the code's {h}x{w}")
    return channels, h, w, image_h // h


def _tiles(codes: Tensor, size: int) -> Tensor:
    """Non-overlapping size x size tiles (N, C, size, size) of codes (B, C, h, w)."""
    c = codes.shape[1]
    t = codes.unfold(2, size, size).unfold(3, size, size)  # (B, C, nh, nw, size, size)
    return t.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size)


@torch.no_grad()
def fit_linear_preview(model: VAE, tiles: int = 64, tile_cells: int = 8, border: int = 1, seed: int = 0,
                       batch: int = 8, on_progress: Callable[[Progress], None] | None = None,
                       token: CancelToken | None = None, batch_bytes: int = BATCH_BYTES) -> LinearPreview:
    """Fit the (C + 1) x out linear map from code cells to decoded pixel means (see the module docstring).

    tiles: how many tile_cells x tile_cells code tiles to decode; border: cells dropped at each tile edge (the
    decode of a cut-out tile differs near its edge); batch: tiles decoded at once, and codes encoded at once, at
    most (each batch also keeps its estimated activations under batch_bytes, at least one item: four SD-sized
    encodes at 256 px would take 2 GB). on_progress gets a Progress
    after each encode and decode batch (steps, not blocks); token cancels between them (Cancelled)."""
    start = time.perf_counter()
    channels, h, w, factor = _check_model(model)
    if tiles < 1 or tile_cells < 1 or not 0 <= 2 * border < tile_cells:
        raise ValueError(f"tiles >= 1 and tile_cells > 2 * border >= 0 are required, got tiles={tiles}, "
                         f"tile_cells={tile_cells}, border={border}")
    size_free = isinstance(model, SIZE_FREE_DECODERS)
    if not size_free or h < tile_cells or w < tile_cells:
        tile_cells, border = min(h, w), (border if min(h, w) > 2 * border + 2 else 0)  # whole codes
        per_code = 1
    else:
        per_code = (h // tile_cells) * (w // tile_cells)
    n_codes = math.ceil(tiles / per_code)
    generator = torch.Generator().manual_seed(seed)
    crops = photo_crops(n_codes, tuple(model.config.input_shape), generator)
    budget = Budget(batch_bytes=batch_bytes)
    tile_hw = (tile_cells * factor, tile_cells * factor)
    encode_batch = max(1, budget.batch(lambda n: estimate_peak(model, "encode", n), min(batch, n_codes))[0])
    decode_batch = max(1, budget.batch(lambda n: estimate_peak(model, "decode", n, tile_hw), min(batch, tiles))[0])
    encode_steps = math.ceil(n_codes / encode_batch)
    decode_steps = math.ceil(tiles / decode_batch)
    total, done = encode_steps + decode_steps, 0

    def step(name: str) -> None:
        nonlocal done
        if token is not None:
            token.raise_if_cancelled()
        if on_progress is not None and name:
            done += 1
            elapsed = time.perf_counter() - start
            on_progress(Progress(done, total, elapsed, elapsed / done * (total - done), name))

    device = model.device
    codes = []
    for chunk in crops.split(encode_batch):
        step("")
        codes.append(model.encode_code(chunk.to(device)).float().cpu())
        step("encode")
    code = torch.cat(codes)  # (n_codes, C, h, w)
    if per_code > 1:
        cut = _tiles(code[:, :, : h - h % tile_cells, : w - w % tile_cells], tile_cells)  # (N, C, t, t)
        cut = cut[torch.randperm(len(cut), generator=generator)[:tiles]]
    else:
        cut = code[:tiles]
    inputs, targets = [], []
    for chunk in cut.split(decode_batch):
        step("")
        image = model.decode_code(chunk.to(device)).float().cpu()  # (b, out, t * factor, t * factor)
        cells = F.avg_pool2d(image, factor)  # (b, out, t, t): the mean of the pixels each cell covers
        inner = slice(border, chunk.shape[-2] - border), slice(border, chunk.shape[-1] - border)
        inputs.append(chunk[:, :, inner[0], inner[1]].permute(0, 2, 3, 1).reshape(-1, channels))
        targets.append(cells[:, :, inner[0], inner[1]].permute(0, 2, 3, 1).reshape(-1, cells.shape[1]))
        step("decode")
    solve_start = time.perf_counter()
    x = torch.cat(inputs).double()  # (N, C)
    y = torch.cat(targets).double()  # (N, out)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)  # (N, C + 1): the bias column
    solution = torch.linalg.lstsq(design, y, driver="gelsd").solution  # (C + 1, out)
    weights, bias = solution[:-1].float(), solution[-1].float()
    fitted = (design @ solution).clamp(0, 1)
    now = time.perf_counter()
    return LinearPreview(weights.contiguous(), bias.contiguous(), factor, psnr(y, fitted), len(x), now - start,
                         now - solve_start)


def cached_linear_preview(model: VAE, digest: str, cache_dir: str | Path | None = None,
                          **fit_options: Any) -> LinearPreview:
    """The model's linear preview from the cache (`<cache>/models/<digest>/preview/linear-v1.safetensors`), or
    fitted now (`fit_linear_preview(model, **fit_options)`) and written there. digest: the weights digest
    (explorer.cache.weights_digest of the model's folder)."""
    path = entry_path(digest, CACHE_KIND, CACHE_NAME, cache_dir)
    found = read_entry(path)
    if found is not None:
        arrays, meta = found
        try:
            preview = LinearPreview.from_entry(arrays, meta)
        except (KeyError, ValueError):
            preview = None
        if preview is not None and preview.channels == model.latent_shape[0]:
            return preview
    preview = fit_linear_preview(model, **fit_options)
    arrays, meta = preview.to_entry()
    write_entry(path, arrays, meta)
    return preview
