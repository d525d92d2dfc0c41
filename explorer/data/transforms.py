"""Batch transforms that match data to a likelihood.

Bernoulli models train on dynamically binarised images (a fresh draw each time an image is seen) and are
scored on one fixed, seeded binarisation of the test split. Gaussian models see uniformly dequantised 8-bit
data: (round(255 x) + u) / 256 with u ~ U(0, 1), the one scoring form (training, evaluation and stored encodings).
"""

from __future__ import annotations

import torch
from torch import Tensor

from explorer.distributions import ItemNoise, Noise, rand_like


def binarize(x: Tensor, generator: Noise = None) -> Tensor:
    """Bernoulli draw per pixel with the pixel's intensity as probability (item-keyed noise: u < x per item)."""
    if isinstance(generator, ItemNoise):
        return (rand_like(x, generator) < x).to(x.dtype)
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: Tensor, seed: int = 0) -> Tensor:
    """The one binarisation of a split used for scoring: the same seed always gives the same images."""
    return torch.bernoulli(x.cpu(), generator=torch.Generator().manual_seed(seed)).to(x.device)


def dequantize(x: Tensor, generator: Noise = None) -> Tensor:
    """Uniform dequantisation of 8-bit data given in [0, 1]: (round(255 x) + u) / 256, u ~ U(0, 1)."""
    u = rand_like(x, generator)
    return (torch.round(x * 255.0) + u) / 256.0


def prepare_batch(x: Tensor, likelihood: str, generator: Noise = None) -> Tensor:
    """Training-time transform for a likelihood: binarise for Bernoulli, dequantise for Gaussian."""
    return binarize(x, generator) if likelihood == "bernoulli" else dequantize(x, generator)
