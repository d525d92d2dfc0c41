"""A 'same' convolution whose output comes out already cut into the p x p blocks of stochastic pooling.

Pooling needs a feature map (B, C, H, W) as blocks (B, C, P, Hb, Wb), P = p*p (see explorer.models.pu.pooling.to_blocks): a
permuting copy of the whole map forward and another backward, slow on a CPU because the innermost runs are only
p floats long. The same blocks come straight out of one strided convolution instead: the output at cell (a, b)
of block (i, j) is the 'same' k x k convolution at pixel (p*i + a, p*j + b), which reads the input window of
side p + k - 1 that starts at (p*i, p*j) in the padded input, at offset (a, b). So a convolution with stride p,
a (p + k - 1)^2 kernel and C*P output channels, whose weight is the k x k weight placed at each of the P
offsets (zeros elsewhere), gives every block at once, channel-major as to_blocks orders them.

Padded cells (the bottom and right rows that make H and W multiples of p) hold the convolution of the zero
padding, i.e. the bias, where to_blocks would put zeros; stochastic pooling never chooses them, and callers that
read them zero them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def block_kernel_index(out_channels: int, in_channels: int, k: int, p: int) -> Tensor:
    """(out*P, in, p+k-1, p+k-1) long: where each weight of the expanded kernel comes from in the flattened
    (out, in, k, k) weight; the index out*in*k*k stands for zero."""
    side = p + k - 1
    source = torch.arange(out_channels * in_channels * k * k).view(out_channels, in_channels, k, k)
    index = torch.full((out_channels, p * p, in_channels, side, side), source.numel(), dtype=torch.long)
    for a in range(p):  # P small copies into an index built once per layer, not per step
        for b in range(p):
            index[:, a * p + b, :, a : a + k, b : b + k] = source
    return index.view(out_channels * p * p, in_channels, side, side)


def conv_to_blocks(x: Tensor, weight: Tensor, bias: Tensor | None, p: int, index: Tensor) -> Tensor:
    """F.conv2d(x, weight, bias, padding=k // 2) cut into p x p blocks: (B, C, P, Hb, Wb), Hb = ceil(H / p).

    x: (B, Cin, H, W); weight: (C, Cin, k, k), k odd; index: block_kernel_index(C, Cin, k, p).
    """
    b, _, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    hb, wb = -(-height // p), -(-width // p)
    half = k // 2
    x = F.pad(x, (half, wb * p - width + half, half, hb * p - height + half))
    expanded = torch.cat([weight.flatten(), weight.new_zeros(1)])[index]  # (C*P, Cin, p+k-1, p+k-1)
    bias = bias.repeat_interleave(p * p) if bias is not None else None
    return F.conv2d(x, expanded, bias, stride=p).view(b, out_channels, p * p, hb, wb)


class BlockIndex(nn.Module):
    """One pooled layer's `block_kernel_index` as a buffer that follows the model's device (not saved: it is
    rebuilt from the config), or None where the layer runs as a plain convolution followed by to_blocks."""

    def __init__(self, index: Tensor | None):
        super().__init__()
        self.register_buffer("index", index, persistent=False)
