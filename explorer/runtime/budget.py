"""Size work to a model: IWAE sample counts and chunks, encode batch sizes, from a time and a memory budget.

    plan = plan_iwae(model, k=100, seconds_per_decode=0.5, budget=Budget(seconds=20, memory_bytes=4 * 2**30))
    iwae_bound(model, x, plan.k, gen, chunk=plan.chunk)     # explorer.analysis.evaluation's, unchanged

The memory side comes from explorer.runtime.memory's estimates (a chunk of IWAE samples is one decode of that
many codes), the time side from a measured time per decoded or encoded item (`time_per_item`). A plan states
what it cut and why (`notes`), for the page to show beside its result; a budget that not even one item fits is
refused up front (MemoryRefused, naming the size).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from explorer.latent import decode_zero_code, zero_code_shape
from explorer.runtime.memory import (
    MemoryEstimate, MemoryRefused, available_bytes, estimate_peak, format_bytes, largest_batch)


# activations a batch may take when work is batched only for speed (a data set's encode, IWAE chunks, the linear
# fit's tiles): batching past this saves little time and would grow the app by gigabytes for a big VAE (four
# Stable-Diffusion encodes at 256 px at once take 2 GB); one item above it still runs when it fits `memory`
BATCH_BYTES = 2**29


@dataclass(frozen=True)
class Budget:
    """What one call may spend: seconds of wall time and bytes of memory beyond the loaded weights (None:
    the memory available now), and at most batch_bytes for a batch of items batched only for speed."""

    seconds: float = 20.0
    memory_bytes: int | None = None
    batch_bytes: int = BATCH_BYTES

    def __post_init__(self) -> None:
        if not self.seconds > 0 or not math.isfinite(self.seconds):
            raise ValueError(f"a time budget must be a positive number of seconds, got {self.seconds!r}")
        if self.memory_bytes is not None and self.memory_bytes <= 0:
            raise ValueError(f"a memory budget must be positive, got {self.memory_bytes!r}")
        if self.batch_bytes <= 0:
            raise ValueError(f"a batch memory budget must be positive, got {self.batch_bytes!r}")

    def memory(self, device: str = "cpu") -> int:
        return self.memory_bytes if self.memory_bytes is not None else available_bytes(device)

    def batch(self, estimate: Callable[[int], MemoryEstimate], limit: int, device: str = "cpu") -> tuple[int, int]:
        """(batch, memory): the largest batch from 1 to limit whose estimate fits both the memory budget and
        batch_bytes (at least 1 when one item fits the memory budget; 0 when not even one does)."""
        memory = self.memory(device)
        if limit < 1 or estimate(1).activation_bytes > memory:
            return 0, memory
        return max(1, largest_batch(estimate, min(memory, self.batch_bytes), limit)), memory


@dataclass(frozen=True)
class IwaePlan:
    """IWAE samples k (at most the requested count) taken `chunk` at a time, and what that is expected to cost."""

    k: int
    chunk: int
    seconds: float  # expected wall time of the k samples of one image
    peak_bytes: int  # estimated activations of one chunk
    notes: tuple[str, ...]  # what was cut and why, for the page


@dataclass(frozen=True)
class EncodePlan:
    """How many of the requested items to encode, `batch` at a time, and what that is expected to cost."""

    items: int
    batch: int
    seconds: float
    peak_bytes: int
    notes: tuple[str, ...]


def time_per_item(call: Callable[[int], object], batch: int = 1, repeats: int = 1) -> float:
    """Seconds per item of call(batch) (e.g. a decode of batch codes), the best of `repeats` timed calls."""
    best = math.inf
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        call(batch)
        best = min(best, time.perf_counter() - start)
    return best / batch


def decode_seconds(model: nn.Module) -> float:
    """About how many seconds one decode of a whole code takes here, found cheaply: the best of two timed
    explorer.latent.decode_zero_code calls (so that the first call's set-up does not count), scaled by the whole
    code's size over the decoded one's (a decoder that takes any size decodes a few cells, and its time grows with
    its pixels: an SD 1.x decoder at 512 px takes 0.13 s for 8 x 8 cells, 9.1 s for its 64 x 64)."""
    area = math.prod(model.latent_shape) / math.prod(zero_code_shape(model))
    return time_per_item(lambda _: decode_zero_code(model), repeats=2) * area


def _refuse(estimate: MemoryEstimate, budget: int) -> MemoryRefused:
    h, w = estimate.image_hw
    return MemoryRefused(f"refused before starting: one {estimate.part} at {h}x{w} needs about "
                         f"{format_bytes(estimate.activation_bytes)} ({estimate.describe()}), over the memory budget "
                         f"of {format_bytes(budget)}; raise the budget, or use a smaller image or tiling",
                         estimate.activation_bytes, budget)


def _batch_note(what: str, n: int, unit: str, used: int, cap: int) -> str:
    """The plan's note on a batch cut to memory: "encoded 2 at a time: 1.0 GB a batch within 1.0 GB", or, when one
    item alone is over the cap (it still runs), says that."""
    over = f"(one alone is over the {format_bytes(cap)} a batch may take)"
    within = f"within {format_bytes(cap)}" if used <= cap else over
    return f"{what} {n} at a time: {format_bytes(used)} a {unit} {within}"


def plan_iwae(model: nn.Module, k: int, seconds_per_decode: float, budget: Budget,
              image_hw: Sequence[int] | None = None, device: str = "cpu") -> IwaePlan:
    """The IWAE sample count and chunk size for one image under budget.

    k: the samples asked for; seconds_per_decode: measured time to decode one code (`time_per_item`). The
    chunk is the largest batch of codes whose decode fits the memory budget and its batch_bytes (at most k); k is
    cut to the samples that fit the time budget (at least 1). Raises MemoryRefused when not even one decode fits."""
    if k < 1:
        raise ValueError(f"k must be at least 1 (0 means no IWAE: skip the plan), got {k}")
    if not seconds_per_decode >= 0:
        raise ValueError(f"seconds_per_decode must be a non-negative number, got {seconds_per_decode!r}")
    peak = lambda n: estimate_peak(model, "decode", n, image_hw)  # noqa: E731
    chunk, memory = budget.batch(peak, k, device)
    if chunk == 0:
        raise _refuse(peak(1), memory)
    notes = []
    affordable = k if seconds_per_decode == 0 else max(1, int(budget.seconds / seconds_per_decode))
    if affordable < k:
        notes.append(f"IWAE samples cut from {k} to {affordable}: {seconds_per_decode:.2f} s a decode and a "
                     f"{budget.seconds:.0f} s budget")
        k = affordable
    chunk = min(chunk, k)
    if chunk < k:
        notes.append(_batch_note("samples decoded", chunk, "chunk", peak(chunk).activation_bytes,
                                 min(memory, budget.batch_bytes)))
    return IwaePlan(k, chunk, k * seconds_per_decode, peak(chunk).activation_bytes, tuple(notes))


def plan_encode(model: nn.Module, items: int, seconds_per_item: float, budget: Budget,
                image_hw: Sequence[int] | None = None, device: str = "cpu", max_batch: int = 256) -> EncodePlan:
    """How many of `items` to encode, in which batch size, under budget: the batch is the largest (at most
    max_batch and items) whose encode fits the memory budget and its batch_bytes; the items are cut to what fits
    the time budget (at least 1). Raises MemoryRefused when not even one encode fits."""
    if items < 1:
        raise ValueError(f"items must be at least 1, got {items}")
    peak = lambda n: estimate_peak(model, "encode", n, image_hw)  # noqa: E731
    batch, memory = budget.batch(peak, min(items, max_batch), device)
    if batch == 0:
        raise _refuse(peak(1), memory)
    notes = []
    affordable = items if seconds_per_item == 0 else max(1, int(budget.seconds / seconds_per_item))
    if affordable < items:
        notes.append(f"items cut from {items} to {affordable}: {seconds_per_item:.2f} s an item and a "
                     f"{budget.seconds:.0f} s budget")
        items = affordable
    if batch < min(items, max_batch):
        notes.append(_batch_note("encoded", batch, "batch", peak(batch).activation_bytes,
                                 min(memory, budget.batch_bytes)))
    batch = min(batch, items)
    return EncodePlan(items, batch, items * seconds_per_item, peak(batch).activation_bytes, tuple(notes))
