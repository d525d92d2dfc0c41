"""Spatial codes (C, H, W) seen channel by channel: statistics, the channel space's principal directions, first-k
decoding and region edits. Pure NumPy; decoding is the caller's (the app's inference thread).

A spatial code's "channel vectors" are its H x W cells, each a C-vector. The channel space is spanned by those
vectors over a set of codes: its principal directions are C-vectors that mean the same at every position, so one
direction can move the whole image, or only a region of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics over every cell of a set of codes (N, C, H, W)."""

    mean: np.ndarray  # (C,) float64
    std: np.ndarray  # (C,) float64 (population std, ddof 0)
    minimum: np.ndarray  # (C,)
    maximum: np.ndarray  # (C,)
    cells: int  # N * H * W values per channel


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 3:
        codes = codes[None]
    if codes.ndim != 4:
        raise ValueError(f"spatial codes must be (C, H, W) or (N, C, H, W), got shape {codes.shape}")
    return codes


def channel_vectors(codes: np.ndarray) -> np.ndarray:
    """Codes (N, C, H, W) or (C, H, W) -> their cells' channel vectors (N * H * W, C)."""
    codes = _check_codes(codes)
    return codes.transpose(0, 2, 3, 1).reshape(-1, codes.shape[1])


def channel_stats(codes: np.ndarray) -> ChannelStats:
    """Mean, std, min and max of each channel over all cells of codes (N, C, H, W) or (C, H, W)."""
    v = channel_vectors(codes)  # (M, C)
    return ChannelStats(v.mean(0), v.std(0), v.min(0), v.max(0), len(v))


def channel_histograms(codes: np.ndarray, bins: int = 30,
                       value_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(counts (C, bins), edges (C, bins + 1)) of each channel's values, each over its own range or all over
    value_range (lo, hi)."""
    v = channel_vectors(codes)
    counts, edges = zip(*(np.histogram(v[:, c], bins=bins, range=value_range) for c in range(v.shape[1])))
    return np.stack(counts), np.stack(edges)


def channel_kl(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q || N(0, 1)) of a diagonal Gaussian posterior (N, C, H, W) summed per channel and averaged over N: (C,).
    Per cell: 0.5 (mu^2 + exp(logvar) - 1 - logvar)."""
    mean, logvar = _check_codes(mean), _check_codes(logvar)
    kl = 0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar)  # (N, C, H, W)
    return kl.sum(axis=(2, 3)).mean(0)


@dataclass(frozen=True)
class ChannelPCA:
    """Principal directions of channel space: cells' C-vectors centred on `mean`, `components` rows orthonormal."""

    mean: np.ndarray  # (C,)
    components: np.ndarray  # (k, C) unit rows, by decreasing variance
    std: np.ndarray  # (k,) spread of the cells along each component
    explained: np.ndarray  # (k,) fraction of the total variance

    def project(self, codes: np.ndarray) -> np.ndarray:
        """Codes (N, C, H, W) or (C, H, W) -> coordinates (N, k, H, W) (or (k, H, W)) along the components."""
        single = np.asarray(codes).ndim == 3
        c = _check_codes(codes)
        out = np.einsum("nchw,kc->nkhw", c - self.mean[None, :, None, None], self.components)
        return out[0] if single else out


def channel_pca(codes: np.ndarray, k: int | None = None) -> ChannelPCA:
    """PCA of the channel vectors of codes (N, C, H, W) (or (C, H, W)); k components (default all C). A sign is
    fixed per component (largest |loading| positive) so the same codes always give the same directions."""
    v = channel_vectors(codes)
    c = v.shape[1]
    k = c if k is None else int(k)
    if not 1 <= k <= c:
        raise ValueError(f"k must be between 1 and the channel count {c}, got {k}")
    mean = v.mean(0)
    cov = np.cov(v - mean, rowvar=False, bias=True).reshape(c, c)  # (C, C): C is small (4 to 64)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:k]
    comps = vectors[:, order].T  # (k, C)
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps = comps * signs[:, None]
    values = np.clip(values[order], 0.0, None)
    total = float(np.clip(np.linalg.eigvalsh(cov), 0, None).sum()) or 1.0
    return ChannelPCA(mean, comps, np.sqrt(values), values / total)


def pca_rgb(code: np.ndarray, pca: ChannelPCA) -> np.ndarray:
    """One code (C, H, W) -> an RGB picture (3, H, W) in [0, 1] of its first three channel-space components, each
    scaled to +-3 of its spread (missing components, when C < 3, are grey)."""
    proj = pca.project(code)  # (k, H, W)
    rgb = np.full((3, *proj.shape[1:]), 0.5)
    n = min(3, len(proj))
    spread = np.where(pca.std[:n] > 0, pca.std[:n], 1.0)
    rgb[:n] = np.clip(0.5 + proj[:n] / (6.0 * spread[:, None, None]), 0.0, 1.0)
    return rgb


def keep_first_channels(code: np.ndarray, k: int, channel_mean: np.ndarray) -> np.ndarray:
    """Code (C, H, W) or (N, C, H, W) with channels k.. set to their mean (C,): what the first k channels carry."""
    out = np.array(code, dtype=np.float64, copy=True)
    c = out.shape[-3]
    if not 0 <= k <= c:
        raise ValueError(f"k must be between 0 and the channel count {c}, got {k}")
    mean = np.asarray(channel_mean, dtype=np.float64).reshape(c)
    out[..., k:, :, :] = mean[k:, None, None]
    return out


def rect_mask(hw: tuple[int, int], top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """A (H, W) float mask, 1 on rows top..bottom-1 and columns left..right-1 (code cells), else 0."""
    h, w = hw
    if not (0 <= top < bottom <= h and 0 <= left < right <= w):
        raise ValueError(f"region rows {top}:{bottom}, columns {left}:{right} must be non-empty and inside {h} x {w} cells")
    mask = np.zeros((h, w))
    mask[top:bottom, left:right] = 1.0
    return mask


def move_along(code: np.ndarray, direction: np.ndarray, amount: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Code (C, H, W) moved by amount * direction (C,) at every cell, or only where mask (H, W) is 1 (weights in
    between scale the move): code + amount * direction[:, None, None] * mask."""
    code = np.asarray(code, dtype=np.float64)
    if code.ndim != 3 or np.asarray(direction).shape != (code.shape[0],):
        raise ValueError(f"need a code (C, H, W) and a direction (C,), got {code.shape} and {np.shape(direction)}")
    weight = np.ones(code.shape[1:]) if mask is None else np.asarray(mask, dtype=np.float64)
    if weight.shape != code.shape[1:]:
        raise ValueError(f"mask must be the code's cells {code.shape[1:]}, got {weight.shape}")
    return code + float(amount) * np.asarray(direction, dtype=np.float64)[:, None, None] * weight[None]


WALK_DIRECTIONS = 4  # the spatial walk's sliders: this many principal directions of channel space ...
WALK_CHANNELS = 4  # ... then this many single channels (the first ones)


@dataclass(frozen=True)
class WalkAxes:
    """The axes of a spatial code's walk: directions (K, C) in channel space, each one's scale (K,) (a slider
    unit) and its label."""
    directions: np.ndarray
    scales: np.ndarray
    labels: list[str]


def walk_axes(pca: ChannelPCA, cells: np.ndarray, n_directions: int = WALK_DIRECTIONS,
              n_channels: int = WALK_CHANNELS) -> WalkAxes:
    """The first n_directions principal directions of channel space, each scaled by its spread, then the first
    n_channels single channels, each scaled by its spread over `cells` (codes (N, C, H, W)); a spread of 0 counts
    as 1. Both counts are capped at the channel count C."""
    c = pca.components.shape[1]
    n_dir, n_ch = min(n_directions, c), min(n_channels, c)
    spread = channel_stats(cells).std[:n_ch]
    directions = np.concatenate([pca.components[:n_dir], np.eye(c)[:n_ch]])
    scales = np.concatenate([np.where(pca.std[:n_dir] > 0, pca.std[:n_dir], 1.0), np.where(spread > 0, spread, 1.0)])
    labels = [f"direction {i + 1} ({100 * pca.explained[i]:.0f}%)" for i in range(n_dir)]
    labels += [f"channel {i}" for i in range(n_ch)]
    return WalkAxes(directions, scales, labels)


def walked(code: np.ndarray, axes: WalkAxes, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """code (C, H, W) + mask * sum_k values_k * scales_k * directions_k: a walk of `values` slider units along
    `axes`, at every cell or only where mask (H, W) is 1."""
    move = (np.asarray(values, dtype=np.float64) * np.asarray(axes.scales, dtype=np.float64)) @ axes.directions  # (C,)
    return move_along(code, move, 1.0, mask)


def latents_stats_json(stats: ChannelStats, dataset: str = "", model: str = "") -> str:
    """Per-channel mean and std in diffusers' config form (`latents_mean`, `latents_std`: lists of C floats, as in
    an AutoencoderKL config), with where they came from."""
    return json.dumps({"latents_mean": [float(x) for x in stats.mean], "latents_std": [float(x) for x in stats.std],
                       "cells": stats.cells, "dataset": dataset, "model": model}, indent=2)


__all__ = ["ChannelPCA", "ChannelStats", "channel_histograms", "channel_kl", "channel_pca", "channel_stats",
           "channel_vectors", "keep_first_channels", "latents_stats_json", "move_along", "pca_rgb", "rect_mask"]
