"""Inverse autoregressive flow steps (Kingma et al. 2016, arXiv 1606.04934).

Each step computes [m, s] = MADE(z, h) and the numerically stable update z' = sigma * z + (1 - sigma) * m with
sigma = sigmoid(s + forget_bias); its Jacobian is triangular with diagonal sigma, so log|det| = sum log sigma.
Alternate steps use the reversed variable order (the paper's reversal between steps, done here by reversing the
MADE ordering rather than permuting z, so z keeps its coordinates).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from explorer.distributions.iaf.made import MADE


class IAFStep(nn.Module):
    def __init__(self, dim: int, hidden: int, context_dim: int, reverse: bool, forget_bias: float = 2.0):
        super().__init__()
        self.made = MADE(dim, hidden, context_dim, reverse)
        self.forget_bias = forget_bias

    def forward(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """z (..., D) -> (z', log sigma), both (..., D)."""
        m, s = self.made(z, context)
        s = s + self.forget_bias
        sigma = s.sigmoid()
        return sigma * z + (1 - sigma) * m, F.logsigmoid(s)

    def inverse(self, z_next: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """The z this step maps to z_next, and its log sigma: D passes, each fixing one more variable in the
        step's order (variable d depends only on those before it, which earlier passes have already fixed)."""
        z = z_next.clone()
        for _ in range(z_next.shape[-1]):
            m, s = self.made(z, context)
            sigma = (s + self.forget_bias).sigmoid()
            z = (z_next - (1 - sigma) * m) / sigma
        m, s = self.made(z, context)
        return z, F.logsigmoid(s + self.forget_bias)


class IAF(nn.Module):
    """k IAF steps over vector codes (..., D) with a context (..., C)."""

    def __init__(self, dim: int, steps: int, hidden: int, context_dim: int):
        super().__init__()
        self.steps = nn.ModuleList(IAFStep(dim, hidden, context_dim, reverse=t % 2 == 1) for t in range(steps))

    def forward(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """z_0 (..., D) -> (z_T, sum over steps of log sigma_t), both (..., D), element-wise."""
        log_det = z.new_zeros(z.shape)
        for step in self.steps:
            z, log_sigma = step(z, context)
            log_det = log_det + log_sigma
        return z, log_det

    def inverse(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """z_T -> (z_0, sum of log sigma_t along the forward path), both (..., D)."""
        log_det = z.new_zeros(z.shape)
        for step in reversed(self.steps):
            z, log_sigma = step.inverse(z, context)
            log_det = log_det + log_sigma
        return z, log_det
