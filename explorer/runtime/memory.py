"""Up-front peak-memory estimates of encodes and decodes, refusals that name the size, and available memory.

    estimate = estimate_peak(model, "decode", batch=1, image_hw=(512, 512))
    check_fits(estimate)                       # raises MemoryRefused("... needs 1.2 GB, 0.8 GB available ...")

An estimate is the model's weights plus the activations live at the call's peak. For a diffusers
AutoencoderKL the activations come from its architecture (`autoencoder_kl_activation_bytes`): the widest
stage at full resolution (the first resnet of the last up block, whose input still has the previous block's
channels; an upsampler's input, interpolation and conv output), times a factor and plus an overhead measured
on this machine (bench/bench_memory_estimate.py: within 30% of the measured peak for the SD 1.x config at 256
and 512 px and for a small config). Other families either register an estimator (`register_peak_estimator`,
by class, as the slow stand-in model of the tests does) or are probed: one call at batch 1 with hooks on every
leaf module, whose largest input + output is scaled by the batch.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from explorer.models.base import VAE
from explorer.models.foreign.diffusers_kl import DiffusersKLVAE

PARTS = ("encode", "decode")
FLOAT_BYTES = 4
# Calibrated on this machine (2-core x86 CPU, torch 2.14, MALLOC_MMAP_THRESHOLD_ fixed) against VmHWM, see the
# module docstring: measured activations / the live-tensor count of the widest stage
KL_FACTOR = {"decode": 1.0, "encode": 1.25}
# conv workspaces, weight reorders and allocator slack, independent of the image size; measured after a first call
# on the smallest input (bench.bench_memory_estimate), whose imports and kernel set-up happen once a process
KL_OVERHEAD_BYTES = {"decode": 24 * 2**20, "encode": 30 * 2**20}


class MemoryRefused(RuntimeError):
    """A call that would not fit in memory, refused before it started; the message names the size it needs."""

    def __init__(self, message: str, needed_bytes: int, available_bytes: int):
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes


def format_bytes(n: float) -> str:
    """Bytes for people: "512 MB", "6.0 GB" (powers of 1024)."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB"


@dataclass(frozen=True)
class MemoryEstimate:
    """The peak memory of one call: `weights_bytes` (resident already once the model is loaded) plus the
    `activation_bytes` the call allocates at its peak."""

    part: str  # "encode" or "decode"
    batch: int
    image_hw: tuple[int, int]
    weights_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.activation_bytes

    def describe(self) -> str:
        h, w = self.image_hw
        return (f"{self.part} of {self.batch} x {h}x{w}: {format_bytes(self.total_bytes)} at its peak "
                f"({format_bytes(self.weights_bytes)} weights + {format_bytes(self.activation_bytes)} activations)")


Estimator = Callable[[nn.Module, str, int, tuple[int, int]], MemoryEstimate]
_ESTIMATORS: dict[type, Estimator] = {}


def register_peak_estimator(cls: type) -> Callable[[Estimator], Estimator]:
    """Decorator: `fn(model, part, batch, image_hw) -> MemoryEstimate` estimates calls of models of class cls
    (and its subclasses); a model declares its peak this way instead of being probed."""
    def add(fn: Estimator) -> Estimator:
        _ESTIMATORS[cls] = fn
        return fn
    return add


def parameter_bytes(module: nn.Module) -> int:
    """Bytes of a module's parameters and buffers, at their own dtypes."""
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


@torch.no_grad()
def part_parameter_bytes(model: VAE, part: str) -> int:
    """Bytes of the parameters and buffers that `part` ("encode" or "decode") of model uses: those of every module
    that runs in one call at a small size (a model whose codes take any size, `Capabilities.size_multiple`, runs at
    two latent cells a side; others at their own size). An exported part's file is about this big, so a page can
    refuse a decoder too big to send before exporting it (an SD decoder: 198 MB, its export about a gigabyte)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    multiple = model.capabilities().size_multiple
    shape = tuple(model.config.input_shape) if part == "encode" else tuple(model.latent_shape)
    if multiple and len(model.latent_shape) == 3:
        side = 2 * multiple if part == "encode" else 2
        shape = (*shape[:-2], side, side)
    used: dict[int, torch.Tensor] = {}

    def note(module: nn.Module, _args: object, _out: object) -> None:
        for t in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            used[id(t)] = t

    handles = [m.register_forward_hook(note) for m in model.modules()]
    try:
        x = torch.zeros(1, *shape, device=model.device)
        model.encode_code(x) if part == "encode" else model.decode_code(x)
    finally:
        for handle in handles:
            handle.remove()
    return sum(t.numel() * t.element_size() for t in used.values())


def _check_request(part: str, batch: int, image_hw: Sequence[int]) -> tuple[int, int]:
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    height, width = (int(v) for v in image_hw)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return height, width


def autoencoder_kl_activation_bytes(config: dict, part: str, batch: int, image_hw: Sequence[int],
                                    dtype_bytes: int = FLOAT_BYTES) -> int:
    """Peak activation bytes of an untiled diffusers AutoencoderKL encode or decode of batch images of
    image_hw, from its config (`block_out_channels`, `latent_channels`, and the like).

    Per stage, the tensors live together, in channels x pixels (resolution r, the stage's channels c):
    a resnet holds its input, its norm and activation outputs (each c_in) and its conv output (c_out); an
    upsampler its input (c at r), the interpolation and the conv output (c at 2r each); a downsampler its input,
    the padded copy and the output. The largest stage, times the measured `KL_FACTOR`, plus `KL_OVERHEAD_BYTES`.
    Attention runs through fused scaled-dot-product kernels (no n x n matrix on CPU or CUDA): its q, k, v and
    output count at the latent resolution.
    """
    height, width = _check_request(part, batch, image_hw)
    channels = [int(c) for c in config["block_out_channels"]]
    factor = 2 ** (len(channels) - 1)
    latent_pixels = (height // factor) * (width // factor)
    stages: list[float] = []  # channel-pixels per image
    top = channels[-1]
    stages.append(6 * top * latent_pixels)  # mid block: input, q, k, v, attention output, projection
    if part == "decode":
        c_in = top
        for i, c in enumerate(reversed(channels)):
            pixels = latent_pixels * 4**i  # this up block's resolution
            stages.append(pixels * (3 * c_in + c))  # first resnet: input, norm, activation (c_in), conv (c)
            if i < len(channels) - 1:
                stages.append(pixels * c * (1 + 4 + 4))  # upsampler: input, nearest x2, conv output
            c_in = c
        stages.append(height * width * 3 * channels[0])  # conv_norm_out, activation, conv_out
    else:
        c_in = channels[0]
        stages.append(height * width * (config.get("in_channels", 3) + channels[0]))  # conv_in
        for i, c in enumerate(channels):
            pixels = height * width / 4**i
            stages.append(pixels * (3 * c_in + c))
            if i < len(channels) - 1:
                stages.append(pixels * c * (1 + 1 + 0.25))  # downsampler: input, padded copy, output
            c_in = c
    return int(batch * max(stages) * dtype_bytes * KL_FACTOR[part]) + KL_OVERHEAD_BYTES[part]


def autoencoder_kl_peak(vae: nn.Module, part: str, batch: int, image_hw: Sequence[int]) -> MemoryEstimate:
    """The peak of `vae.encode` / `vae.decode` (a diffusers AutoencoderKL) on batch images of image_hw; with
    tiling enabled and the image larger than a tile, the activations are those of one tile of one image (plus the
    full-size output the tiles are blended into)."""
    height, width = _check_request(part, batch, image_hw)
    dtype_bytes = next(vae.parameters()).element_size()
    tile = int(vae.tile_sample_min_size)
    if vae.use_tiling and (height > tile or width > tile):
        tile_batch = 1 if vae.use_slicing else batch
        active = autoencoder_kl_activation_bytes(vae.config, part, tile_batch, (tile, tile), dtype_bytes)
        # decoded tiles are all kept before blending (overlap 1 / (1 - overlap)^2), then concatenated
        keep = batch * 3 * height * width * dtype_bytes * (1 + 1 / (1 - vae.tile_overlap_factor) ** 2)
        activations = active + int(keep)
    elif vae.use_slicing and batch > 1:
        activations = autoencoder_kl_activation_bytes(vae.config, part, 1, (height, width), dtype_bytes)
    else:
        activations = autoencoder_kl_activation_bytes(vae.config, part, batch, (height, width), dtype_bytes)
    return MemoryEstimate(part, batch, (height, width), parameter_bytes(vae), activations)


def probed_peak(model: nn.Module, call: Callable[[int], object], batch: int, image_hw: Sequence[int],
                part: str) -> MemoryEstimate:
    """Estimate by probing: run call(1) (one item) with hooks on every leaf module, and take the largest input
    plus output of any leaf, times 2 (the previous activation and a temporary), times the batch."""
    height, width = _check_request(part, batch, image_hw)
    largest = 0

    def size(value: object) -> int:
        if isinstance(value, Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, (tuple, list)):
            return sum(size(v) for v in value)
        return 0

    def hook(_module: nn.Module, inputs: tuple, output: object) -> None:
        nonlocal largest
        largest = max(largest, size(inputs) + size(output))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            call(1)
    finally:
        for handle in handles:
            handle.remove()
    return MemoryEstimate(part, batch, (height, width), parameter_bytes(model), 2 * largest * batch)


def estimate_peak(model: nn.Module, part: str, batch: int, image_hw: Sequence[int] | None = None) -> MemoryEstimate:
    """The peak memory of an encode or decode of `batch` images by an explorer VAE (or a diffusers AutoencoderKL).

    A registered estimator answers first (by class, most specific first), then a diffusers AutoencoderKL
    (an explorer DiffusersKLVAE's `.vae`), else one probed call at batch 1 at the model's own input size.
    image_hw defaults to the model's input size (config.input_shape)."""
    if image_hw is None:
        if not isinstance(model, VAE):
            raise ValueError("image_hw is required for a model that is not an explorer VAE")
        image_hw = tuple(model.config.input_shape[1:])
    for cls in type(model).__mro__:
        if cls in _ESTIMATORS:
            return _ESTIMATORS[cls](model, part, batch, tuple(image_hw))
    diffusers = sys.modules.get("diffusers")  # an AutoencoderKL exists only once diffusers is imported
    if diffusers is not None and isinstance(model, diffusers.AutoencoderKL):
        return autoencoder_kl_peak(model, part, batch, image_hw)
    if not isinstance(model, VAE):
        raise ValueError(f"no memory estimate for a {type(model).__name__}; register one with register_peak_estimator")
    shape = tuple(model.config.input_shape)
    height, width = _check_request(part, batch, image_hw)
    device = model.device

    def call(n: int) -> object:
        if part == "encode":
            return model.encode(torch.zeros(n, *shape, device=device))
        return model.decode(torch.zeros(n, *model.latent_shape, device=device))

    estimate = probed_peak(model, call, batch, image_hw, part)
    # convolutional activations grow with the pixels: scale from the model's own size to the one asked for
    scale = height * width / (shape[1] * shape[2])
    return MemoryEstimate(part, batch, (height, width), estimate.weights_bytes, int(estimate.activation_bytes * scale))


@register_peak_estimator(DiffusersKLVAE)
def diffusers_kl_peak(model: nn.Module, part: str, batch: int, image_hw: tuple[int, int]) -> MemoryEstimate:
    """The explorer's DiffusersKLVAE: the estimate of its `.vae`, a diffusers AutoencoderKL."""
    inner = autoencoder_kl_peak(model.vae, part, batch, image_hw)
    return MemoryEstimate(part, batch, inner.image_hw, parameter_bytes(model), inner.activation_bytes)


def available_bytes(device: torch.device | str = "cpu") -> int:
    """Memory a new allocation can take now: CUDA's free device memory, MPS's recommended working set less what
    it holds, else the system's MemAvailable (Linux /proc/meminfo; physical pages elsewhere)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_fits(estimate: MemoryEstimate, budget_bytes: int | None = None, weights_loaded: bool = True,
               device: torch.device | str = "cpu") -> None:
    """Refuse (MemoryRefused) a call whose estimate does not fit: its activations (plus its weights unless
    already loaded) against budget_bytes, default the memory available on device now. The message names the
    size the call needs and what is available."""
    needed = estimate.activation_bytes + (0 if weights_loaded else estimate.weights_bytes)
    available = available_bytes(device) if budget_bytes is None else int(budget_bytes)
    if needed > available:
        h, w = estimate.image_hw
        raise MemoryRefused(
            f"refused before starting: a {estimate.part} of {estimate.batch} image(s) at {h}x{w} needs about "
            f"{format_bytes(needed)} ({estimate.describe()}), but only {format_bytes(available)} is available; "
            "use a smaller image or batch, enable tiling, or raise the memory budget", needed, available)


def largest_batch(estimate: Callable[[int], MemoryEstimate], budget_bytes: int, limit: int) -> int:
    """The largest batch from 1 to limit whose estimate(batch).activation_bytes fits budget_bytes (binary
    search: activations grow with the batch); 0 when not even one item fits."""
    if limit < 1:
        return 0
    if estimate(1).activation_bytes > budget_bytes:
        return 0
    low, high = 1, limit
    while low < high:
        mid = (low + high + 1) // 2
        if estimate(mid).activation_bytes <= budget_bytes:
            low = mid
        else:
            high = mid - 1
    return low


def bytes_from_gb(gb: float) -> int:
    """GB (powers of 1024) as bytes; a finite positive number only."""
    if not math.isfinite(gb) or gb <= 0:
        raise ValueError(f"a memory budget must be a positive number of GB, got {gb!r}")
    return int(gb * 2**30)
