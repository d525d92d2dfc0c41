"""The relaxed stochastic pooling of a training step, compiled with torch.compile into a few fused loops.

In eager PyTorch one relaxed pooling layer is about fifteen passes over the (B, C, P, Hb, Wb) block tensor
forward and as many backward (logits, Gumbel noise, perturbed logits, argmax, Gumbel-softmax, the pooled
gather, the location KL's softmax and log-softmax, and their gradients); on a CPU each pass costs as much as
the arithmetic. `relaxed_pool_terms` writes the same computation as plain tensor algebra, and TorchInductor
fuses it, forward and backward, into a handful of C++ / OpenMP (or Triton) loops. The numbers are those of
pu_pooling's eager path (tested): the same exact draw from the same uniform noise, the same straight-through
gradients, the same KL.

It is opt-in (`train.py --compile`, `enable()`): the first batch of a new shape compiles for some seconds
(about 10 s on 2 cores), and the compiler must be present (a C++ compiler on the CPU, Triton on CUDA).
`enable()` compiles a tiny example first and leaves the eager path in place when that fails.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import Tensor

from explorer.models.pu_pooling import CELL_DIM  # blocks are (B, C, P, Hb, Wb)

log = logging.getLogger(__name__)

_state: dict[str, Callable | bool | str | None] = {"fn": None, "enabled": False, "error": None}


def relaxed_pool_terms(blocks: Tensor, logits: Tensor | None, scale: Tensor | None, bias: Tensor | None, u: Tensor,
                       tau: float, log_cells: Tensor | float):
    """Relaxed pooling from uniform noise u (like blocks): (pooled, index, soft, block_kl, logits), as
    pu_pooling's eager path computes them. logits: given, or None for scale * blocks; bias (padded cells'
    mask) is added. pooled is exact (the chosen activation) and its gradient is straight-through: hard to the
    blocks, the blocks to the Gumbel-softmax `soft`."""
    if logits is None:
        logits = blocks * scale
    if bias is not None:
        logits = logits + bias
    perturbed = logits - u.clamp_min(torch.finfo(u.dtype).tiny).log().neg().log()  # logits + Gumbel noise
    index = perturbed.argmax(CELL_DIM, keepdim=True)  # the first maximum, as torch.max
    soft = torch.softmax(perturbed / tau, CELL_DIM)
    cells = torch.arange(logits.shape[CELL_DIM], device=logits.device).view(-1, 1, 1)
    hard = (cells == index).to(blocks.dtype)
    # (soft - soft.detach()) is exactly 0 forward, so pooled is the chosen activation to the last bit
    pooled = (blocks * hard).sum(CELL_DIM) + (blocks * (soft - soft.detach())).sum(CELL_DIM)
    neg_entropy = (torch.softmax(logits, CELL_DIM) * torch.log_softmax(logits, CELL_DIM)).sum(CELL_DIM)
    return pooled, index.squeeze(CELL_DIM), soft, neg_entropy + log_cells, logits.detach()


def relaxed_pool(blocks: Tensor, logits: Tensor | None, scale: Tensor | None, bias: Tensor | None, u: Tensor,
                 tau: float, log_cells: Tensor | float):
    """`relaxed_pool_terms` through the compiled kernel (compiled on first use of each shape)."""
    fn = _state["fn"]
    assert callable(fn), "call enable() first"
    return fn(blocks, logits, scale, bias, u, tau, log_cells)


def enabled() -> bool:
    return bool(_state["enabled"])


def enable(on: bool = True) -> bool:
    """Switch the compiled kernel on (after a tiny trial compile, forward and backward) or off. Returns
    whether it is on; when the trial fails, the reason is in `last_error()` and the eager path stays."""
    if not on:
        _state["enabled"] = False
        return False
    if _state["fn"] is None:
        _state["fn"] = torch.compile(relaxed_pool_terms, dynamic=False)
    try:
        blocks = torch.randn(1, 1, 4, 2, 2, requires_grad=True)
        pooled, _, soft, kl, _ = relaxed_pool(blocks, blocks * 2.0, None, None, torch.rand(1, 1, 4, 2, 2), 1.0, 0.0)
        (pooled.sum() + soft.sum() + kl.sum()).backward()
    except Exception as exc:  # any compiler failure: no C++ compiler, unsupported platform, ...
        _state["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.warning("torch.compile of the pooling failed; training goes on with the eager code (%s)", _state["error"])
        _state["enabled"] = False
        return False
    _state["enabled"] = True
    return True


def last_error() -> str | None:
    return _state["error"]  # type: ignore[return-value]
