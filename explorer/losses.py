"""Loss terms as pure functions over per-sample, per-dimension tensors.

Nothing here reduces over the batch: callers average (training) or keep per-item values (evaluation, app).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def kl_free_bits_per_dimension(kl_dims: Tensor, floor: float) -> Tensor:
    """Free bits of Kingma et al. 2016: a floor on each dimension's KL averaged over the batch.

    kl_dims: (B, D) per-sample, per-dimension KL. Returns (B,) per-sample terms whose batch mean equals
    sum_d max(floor, mean_b kl[b, d]); a dimension under its floor contributes the constant floor, so no
    gradient pushes it further towards the prior.
    """
    if floor <= 0:
        return kl_dims.sum(1)
    dim_means = kl_dims.mean(0, keepdim=True)  # (1, D)
    below = dim_means < floor
    return torch.where(below, torch.full_like(kl_dims, floor), kl_dims).sum(1)


def kl_free_bits_per_sample(kl_dims: Tensor, floor: float) -> Tensor:
    """A floor on each sample's total KL, rather than on each latent dimension. kl_dims: (B, D) -> (B,)."""
    total = kl_dims.sum(1)
    return total.clamp_min(floor) if floor > 0 else total


def regularised_kl(kl_dims: Tensor, free_bits: float = 0.0, mode: str = "dimension") -> Tensor:
    """Per-sample KL after the chosen free-bits rule ("dimension", "sample" or "none"). (B, D) -> (B,)."""
    if mode == "none" or free_bits <= 0:
        return kl_dims.sum(1)
    if mode == "dimension":
        return kl_free_bits_per_dimension(kl_dims, free_bits)
    if mode == "sample":
        return kl_free_bits_per_sample(kl_dims, free_bits)
    raise ValueError(f"unknown free-bits mode {mode!r}: use 'dimension', 'sample' or 'none'")


@dataclass
class BetaSchedule:
    """KL weight per optimisation step: constant, linear warm-up, or cyclical (Fu et al. 2019)."""

    beta: float = 1.0  # final (maximum) weight
    kind: str = "constant"  # "constant" | "linear" | "cyclical"
    warmup_steps: int = 0  # linear: steps to reach beta; cyclical: steps per cycle
    ramp_fraction: float = 0.5  # cyclical: share of each cycle spent ramping up

    def __call__(self, step: int) -> float:
        if self.kind == "constant" or self.warmup_steps <= 0:
            return self.beta
        if self.kind == "linear":
            return self.beta * min(1.0, step / self.warmup_steps)
        if self.kind == "cyclical":
            phase = (step % self.warmup_steps) / self.warmup_steps
            return self.beta * min(1.0, phase / max(self.ramp_fraction, 1e-8))
        raise ValueError(f"unknown KL schedule {self.kind!r}: use 'constant', 'linear' or 'cyclical'")


def log_mean_exp(log_w: Tensor, dim: int = -1) -> Tensor:
    """log(mean(exp(log_w))) along dim, computed stably."""
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


def bits_per_dim(nll_nats: Tensor, num_dims: int, bins: int = 256) -> Tensor:
    """Convert a continuous NLL of data in [0, 1] (nats per image) to bits per dimension on the 8-bit scale.

    A density on [0, 1] becomes one on [0, bins] by dividing by bins per dimension, so the 8-bit NLL is
    nll + D log(bins).
    """
    return (nll_nats + num_dims * math.log(bins)) / (num_dims * math.log(2))
