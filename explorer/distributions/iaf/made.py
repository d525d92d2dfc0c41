"""MADE (Germain et al. 2015): masked linear layers whose output d sees only inputs earlier in an ordering.

Degrees follow the paper: inputs get 1..D in the chosen order, hidden units 0..D-1 (0: the unit sees no input,
only the context), outputs 1..D. A hidden unit of degree k sees inputs of degree <= k; an output of degree d sees
hidden units of degree < d, so output d depends on inputs of degree < d only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """nn.Linear with a fixed 0/1 mask (out, in) on its weight."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def input_degrees(dim: int, reverse: bool) -> Tensor:
    """Degrees 1..D of the inputs, in reverse order when asked (the order of alternate IAF steps)."""
    degrees = torch.arange(1, dim + 1)
    return degrees.flip(0) if reverse else degrees


class MADE(nn.Module):
    """Autoregressive network (..., D) -> two (..., D) outputs m and s, with output d a function of z_<d (in the
    step's order) and of an unmasked context (..., C) that enters the first hidden layer."""

    def __init__(self, dim: int, hidden: int, context_dim: int, reverse: bool = False):
        super().__init__()
        d_in = input_degrees(dim, reverse)
        d_hidden = torch.arange(hidden) % dim  # 0..D-1; degree 0 carries the context to the first output
        self.register_buffer("degrees", d_in, persistent=False)
        self.inp = MaskedLinear(dim, hidden, (d_hidden[:, None] >= d_in[None, :]))
        self.ctx = nn.Linear(context_dim, hidden) if context_dim > 0 else None
        self.mid = MaskedLinear(hidden, hidden, (d_hidden[:, None] >= d_hidden[None, :]))
        out_mask = (d_in[:, None] > d_hidden[None, :])  # (D, H)
        self.out = MaskedLinear(hidden, 2 * dim, torch.cat([out_mask, out_mask]))
        # start near an identity-like step: small m and s, so sigma = sigmoid(s + bias) begins at the bias
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.inp(z)
        if self.ctx is not None and context is not None:
            h = h + self.ctx(context)
        h = F.elu(self.mid(F.elu(h)))
        m, s = self.out(F.elu(h)).chunk(2, dim=-1)
        return m, s
