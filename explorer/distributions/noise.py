"""Noise keyed by data item, and the draw helpers every family samples through."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class ItemNoise:
    """Noise keyed by data item: row i of every draw comes from item i's own counter-based stream.

    Draw k of a step (the binarisation, then the reparameterisation, ...) gives item i the numbers of NumPy's
    Philox (a counter-based generator, Salmon et al. 2011) keyed by (seed, epoch) from counter (0, k, 0, index),
    so an item's noise depends on (seed, epoch, index, k) and on nothing else: not on the batch it shares, its
    position there, or which process of a distributed run draws it. Pass it wherever the interface takes a
    `generator`: the draw helpers below accept it, and a family that draws only through them declares
    `Capabilities.item_keyed_noise`. The draws are made on the CPU (one small call per item, through one reused
    bit generator whose counter is set per item) and moved to the tensor's device; torch has no generator keyed
    per row, which is why this exists.
    """

    def __init__(self, seed: int, epoch: int, indices: Tensor | list[int]):
        self.indices = [int(i) for i in (indices.tolist() if isinstance(indices, Tensor) else indices)]
        self._key = np.array([int(seed) % 2**64, int(epoch) % 2**64], dtype=np.uint64)
        self._bits = np.random.Philox(key=self._key)
        self._fresh = self._bits.state  # empty output buffer: each item's draw starts at its own counter
        self._numbers = np.random.Generator(self._bits)
        self.draws = 0  # draws made so far in this step

    def __len__(self) -> int:
        return len(self.indices)

    def _rows(self, shape: torch.Size | tuple[int, ...], draw: str) -> np.ndarray:
        if len(shape) == 0 or shape[0] != len(self.indices):
            raise ValueError(f"item-keyed noise is drawn per item: a draw of shape {tuple(shape)} needs "
                             f"{len(self.indices)} rows, one per item of the batch")
        row, k = tuple(shape[1:]), self.draws
        self.draws += 1
        out = np.empty((len(self.indices), *row), dtype=np.float32)
        sample = getattr(self._numbers, draw)
        for n, index in enumerate(self.indices):
            # counter words low..high: (block, draw, 0, index); a draw would need 2**64 blocks to reach the next
            self._bits.state = {**self._fresh, "state": {"counter": np.array([0, k, 0, index], dtype=np.uint64),
                                                         "key": self._key}}
            out[n] = sample(row, dtype=np.float32)
        return out

    def randn(self, shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normal noise of `shape` (B, ...): row i from item i's stream."""
        return torch.from_numpy(self._rows(shape, "standard_normal")).to(device=device, dtype=dtype)

    def rand(self, shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> Tensor:
        """U[0, 1) noise of `shape` (B, ...): row i from item i's stream."""
        return torch.from_numpy(self._rows(shape, "random")).to(device=device, dtype=dtype)


# what the interface's `generator` arguments take: a torch generator, item-keyed noise, or None (torch's default)
Noise = torch.Generator | ItemNoise | None


def randn_like(t: Tensor, generator: Noise = None) -> Tensor:
    """Standard normal noise shaped like `t`, drawn from `generator` when given (a torch generator must live on
    t's device; item-keyed noise gives row i of the leading batch dimension from item i's stream)."""
    if isinstance(generator, ItemNoise):
        return generator.randn(t.shape, t.device, t.dtype)
    return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)


def rand_like(t: Tensor, generator: Noise = None) -> Tensor:
    """U[0, 1) noise shaped like `t`, from `generator` like `randn_like`."""
    if isinstance(generator, ItemNoise):
        return generator.rand(t.shape, t.device, t.dtype)
    return torch.rand(t.shape, generator=generator, device=t.device, dtype=t.dtype)
