"""Per-block progress and cancellation for any torch model call (an encode, a decode, a tiled decode).

A worker thread wraps the call:

    token = CancelToken()
    with watch(vae.decoder, on_progress=report, token=token, calls=tile_count(vae, z.shape)):
        image = vae.decode(z).sample             # raises Cancelled once token.cancel() is called

Forward hooks on the model's blocks (its resnets, attentions, up/down samplers: `find_blocks`) report a
`Progress` after every block, and a pre-hook checks the token before each block starts, so a superseded call
raises `Cancelled` at the next block boundary: after `cancel()`, at most the block that was running finishes.
The hooks fire only for the thread that opened `watch`, so several threads may share one model, each with its
own token; they are removed when the `with` block ends, also when the call raised.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from torch import nn

T = TypeVar("T")

# the ModuleLists that hold a diffusers UNet/VAE block's parts, each of which is one progress step
DIFFUSERS_PART_LISTS = ("resnets", "attentions", "upsamplers", "downsamplers")


class Cancelled(Exception):
    """The call was superseded: its token was cancelled, and it stopped at a block boundary."""


class CancelToken:
    """A flag one thread sets (`cancel`) and a running model call checks at every block boundary."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "superseded") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `Cancelled` (naming the reason) when the token has been cancelled."""
        if self._event.is_set():
            raise Cancelled(f"model call cancelled: {self.reason}")


@dataclass(frozen=True)
class Progress:
    """Where a watched call stands: `done` of `total` blocks (total grows if more run than expected)."""

    done: int
    total: int
    elapsed_s: float
    eta_s: float | None  # estimated seconds left; None before the first block has finished
    block: str  # qualified name of the block that just finished ("" at the start)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


ProgressCallback = Callable[[Progress], None]


def _holds_block_list(module: nn.Module) -> bool:
    """Whether a module contains a list of two or more parametrised parts (then its parts are the blocks)."""
    for child in module.modules():
        if child is not module and isinstance(child, (nn.ModuleList, nn.Sequential)):
            if sum(1 for c in child.children() if any(True for _ in c.parameters())) >= 2:
                return True
    return False


def find_blocks(root: nn.Module) -> list[tuple[str, nn.Module]]:
    """The progress steps of a model, as (qualified name, module) in definition order.

    The elements of its module lists (diffusers' `resnets`, `attentions`, `upsamplers`, `downsamplers`; a
    family's `nn.Sequential` layers), going down while an element itself holds such a list of two or more
    parametrised parts. A model with no such list is one block. Modules outside every list (conv_in, norms) are
    cheap and not counted."""
    found: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(child, (nn.ModuleList, nn.Sequential)):
                for index, element in child.named_children():
                    element_path = f"{path}.{index}"
                    if not any(True for _ in element.parameters()):
                        continue  # activations, dropout: no work worth a step
                    if _holds_block_list(element):
                        walk(element_path, element)
                    else:
                        found.append((element_path, element))
            else:
                walk(path, child)

    walk("", root)
    return found or [("", root)]


def diffusers_tile_count(vae: nn.Module, shape: Sequence[int], part: str = "decode") -> int:
    """How many times a diffusers AutoencoderKL runs its decoder (part "decode", shape the latent's (B, C, h, w))
    or encoder ("encode", shape the image's (B, C, H, W)) for one call, with its tiling and slicing settings:
    the tiles per image (1 untiled) times the batch when slicing."""
    batch, height, width = int(shape[0]), int(shape[-2]), int(shape[-1])
    if part not in ("decode", "encode"):
        raise ValueError(f"part must be 'decode' or 'encode', got {part!r}")
    tile = vae.tile_latent_min_size if part == "decode" else vae.tile_sample_min_size
    tiles = 1
    if vae.use_tiling and (height > tile or width > tile):
        stride = int(tile * (1 - vae.tile_overlap_factor))
        tiles = len(range(0, height, stride)) * len(range(0, width, stride))
    # slicing splits the batch into single images; each image's call then runs the blocks once per tile
    return tiles * (batch if vae.use_slicing and batch > 1 else 1)


# the elapsed seconds after each block of the last finished call with this key (e.g. a model's decode at one
# shape): the next call's total, and the share of the time each block takes, for its ETA
_LEARNED: dict[Hashable, list[float]] = {}


class _Run:
    """The state of one watched call: counts, timing and the callback (used from the owner thread only)."""

    def __init__(self, blocks: int, calls: int, on_progress: ProgressCallback | None, token: CancelToken | None,
                 learned: list[float] | None = None):
        self.per_call = blocks
        self.learned = learned  # elapsed after each block in the last call like this one
        self.total = len(learned) if learned else blocks * max(1, calls)
        self.done = 0
        self.times: list[float] = []
        self.start = time.perf_counter()
        self.on_progress = on_progress
        self.token = token
        self.owner = threading.get_ident()

    def report(self, block: str) -> None:
        if self.on_progress is None:
            return
        elapsed = time.perf_counter() - self.start
        eta = None
        if self.done and self.learned and len(self.learned) == self.total and self.learned[self.done - 1] > 0:
            # blocks differ in cost (full-resolution ones dominate): scale the last call's remaining time
            eta = elapsed * (self.learned[-1] / self.learned[self.done - 1] - 1)
        elif self.done:
            eta = elapsed / self.done * (self.total - self.done)
        self.on_progress(Progress(self.done, self.total, elapsed, eta, block))

    def before(self) -> None:
        if self.token is not None and threading.get_ident() == self.owner:
            self.token.raise_if_cancelled()

    def after(self, name: str) -> None:
        if threading.get_ident() != self.owner:
            return  # another thread's call through the same shared model
        self.done += 1
        self.times.append(time.perf_counter() - self.start)
        if self.done > self.total:  # more calls than expected (e.g. tiling not declared): one more call's worth
            self.total += self.per_call
        self.report(name)
        if self.token is not None:
            self.token.raise_if_cancelled()


@contextmanager
def watch(root: nn.Module, on_progress: ProgressCallback | None = None, token: CancelToken | None = None,
          blocks: Sequence[tuple[str, nn.Module]] | None = None, calls: int = 1,
          key: Hashable | None = None) -> Iterator[None]:
    """Report progress and honour cancellation for model calls made inside the `with` block by this thread.

    root: the module whose blocks are hooked (e.g. a diffusers `vae.decoder` for a decode); blocks: the
    (name, module) steps, default `find_blocks(root)`; calls: how many times the call runs those blocks (the
    tiles of a tiled decode, `diffusers_tile_count`). on_progress gets a `Progress` at the start (0 done) and
    after every block, and a last one with done == total when the call returns; token, when cancelled, makes
    the next block boundary raise `Cancelled`. All hooks are removed on exit, whether the call returned or raised.

    key: names the call (e.g. ("decode", id(model), shape)); a call that returned records how many blocks it
    ran under its key, and the next call with that key takes it as its total (where root holds blocks the call
    does not run, such as a whole VAE's encoder blocks during a decode), and its ETA from the time each block
    took then (the full-resolution blocks at the end of a decoder take most of it).
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    steps = list(blocks) if blocks is not None else find_blocks(root)
    run = _Run(len(steps), calls, on_progress, token, _LEARNED.get(key) if key is not None else None)
    handles = []
    try:
        for name, module in steps:
            handles.append(module.register_forward_pre_hook(lambda _m, _a: run.before()))
            handles.append(module.register_forward_hook(lambda _m, _a, _o, name=name: run.after(name)))
        run.before()
        run.report("")
        yield
        if key is not None and run.done:
            _LEARNED[key] = run.times
        if 0 < run.done != run.total:  # fewer blocks ran than expected: the call is complete all the same
            run.total = run.done
            run.report("")
    finally:
        for handle in handles:
            handle.remove()


def run_watched(call: Callable[[], T], root: nn.Module, on_progress: ProgressCallback | None = None,
                token: CancelToken | None = None, blocks: Sequence[tuple[str, nn.Module]] | None = None,
                calls: int = 1, key: Hashable | None = None) -> T:
    """call() inside `watch(root, ...)`: its result, or `Cancelled` once token is cancelled (see `watch`)."""
    with watch(root, on_progress, token, blocks, calls, key):
        return call()


def format_progress(progress: Progress) -> str:
    """A one-line caption: "12/34 blocks, 3.1 s, about 5 s left"."""
    left = "" if progress.eta_s is None or not math.isfinite(progress.eta_s) else f", about {progress.eta_s:.0f} s left"
    return f"{progress.done}/{progress.total} blocks, {progress.elapsed_s:.1f} s{left}"
