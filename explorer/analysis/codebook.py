"""What a discrete model's codes mean, over a whole data set: usage, dead codes, perplexity, per-image code
histograms, the patches behind a code, the codebook as a map, and samples from the data's code frequencies.

Usage is counted over every item of a data set (np.bincount of all its indices), never over one batch: a batch's
perplexity understates the codebook a model uses (bshall/VectorQuantizedVAE #3). Perplexity is
exp(H(usage)) = exp(scipy.stats.entropy(counts)), between 1 (one code) and K (all codes equally often).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explorer.analysis.evaluation import scoring_inputs
from explorer.analysis.teacher import psnr
from explorer.data.base import Dataset, stack_images
from explorer.models.base import VAE, CodeLevel
from explorer.pca import fit_pca

# one line per metric, written into metrics.json beside the figures (metric_descriptions) and rendered by the card
DESCRIPTIONS = {
    "nll_per_pixel_nats": "reconstruction NLL per pixel value (nats), mean over the test split",
    "psnr_db": "PSNR (dB) of the reconstructions over the test split (images in [0, 1])",
    "codes_used": "codes used at least once over the test split (data-set-level)",
    "codes_used_share": "share of the codebook used at least once over the test split (data-set-level)",
    "dead_codes": "codes never used over the test split (data-set-level)",
    "perplexity": "exp(entropy of the code usage) over the test split (data-set-level; K if all codes equally used)",
    "perplexity_over_k": "data-set-level perplexity / K",
}


@dataclass
class UsageStats:
    """How one level's codes are used over `items` images (`scope`: "data set" or "batch")."""

    counts: np.ndarray  # (K,) int64: cells that chose each code
    items: int
    scope: str

    @property
    def codebook_size(self) -> int:
        return len(self.counts)

    @property
    def used(self) -> int:
        return int((self.counts > 0).sum())

    @property
    def share_in_use(self) -> float:
        return self.used / self.codebook_size

    @property
    def dead_codes(self) -> np.ndarray:
        """Indices (n,) of the codes no cell chose."""
        return np.flatnonzero(self.counts == 0)

    @property
    def perplexity(self) -> float:
        # imported here: scipy.stats takes ~1 s of CPU to import, which every process that imports this module
        # (train.py, vae-evaluate, the app through explorer.checkpoint) paid at start, used or not
        import scipy.stats

        return float(math.exp(scipy.stats.entropy(self.counts))) if self.counts.sum() else 0.0

    def label(self) -> str:
        """The perplexity with its scope, as pages and cards print it."""
        return f"{self.scope}-level perplexity {self.perplexity:.1f} of K = {self.codebook_size} ({self.items} items)"


def count_codes(indices: np.ndarray | Tensor, codebook_size: int) -> np.ndarray:
    """Counts (K,) int64 of every index in an array of any shape (one np.bincount); refuses indices outside 0..K-1."""
    flat = np.asarray(indices.cpu() if isinstance(indices, Tensor) else indices).reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= codebook_size):
        raise ValueError(f"code index {int(flat.min() if flat.min() < 0 else flat.max())} is outside the codebook: "
                         f"indices run 0..{codebook_size - 1}")
    return np.bincount(flat.astype(np.int64, copy=False), minlength=codebook_size)


def usage_stats(indices: np.ndarray | Tensor, codebook_size: int, scope: str = "data set") -> UsageStats:
    """UsageStats of indices (N, h, w): scope "data set" when they are every item's, "batch" for one batch."""
    return UsageStats(count_codes(indices, codebook_size), int(indices.shape[0]), scope)


@torch.no_grad()
def encode_indices_all(model: VAE, images: Tensor, batch_size: int = 256,
                       on_batch: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """Every image's code indices, per level: arrays (N, h, w) int16 (int32 for K over 32767), batch by batch."""
    model.eval()
    levels = model.code_levels()
    dtypes = [np.int16 if level.codebook_size <= 32767 else np.int32 for level in levels]
    out: list[list[np.ndarray]] = [[] for _ in levels]
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(model.device)
        for part, indices, dtype in zip(out, model.encode_indices(x), dtypes):
            part.append(indices.cpu().numpy().astype(dtype))
        if on_batch is not None:
            on_batch(len(x))
    return [np.concatenate(p) if p else np.zeros((0, *lv.grid), dt) for p, lv, dt in zip(out, levels, dtypes)]


def dataset_usage(model: VAE, dataset: Dataset, limit: int | None = None, batch_size: int = 256) -> list[UsageStats]:
    """Data-set-level UsageStats of each level over a data set's (first `limit`) items."""
    images, _ = stack_images(dataset, limit)
    indices = encode_indices_all(model, images, batch_size)
    return [usage_stats(i, level.codebook_size) for i, level in zip(indices, model.code_levels())]


def pooled_histograms(indices: np.ndarray, codebook_size: int) -> np.ndarray:
    """Each image's code histogram (N, K) float32, rows summing to 1: the vector the map places an image by."""
    n = len(indices)
    flat = indices.reshape(n, -1).astype(np.int64)  # (N, cells)
    offsets = (np.arange(n, dtype=np.int64) * codebook_size)[:, None]
    counts = np.bincount((flat + offsets).reshape(-1), minlength=n * codebook_size).reshape(n, codebook_size)
    return (counts / max(flat.shape[1], 1)).astype(np.float32)


Box = tuple[int, int, int, int]  # (top, left, bottom, right) in pixels, bottom / right exclusive


def cell_boxes(level: CodeLevel, row: int, col: int, image_hw: tuple[int, int]) -> tuple[Box, Box]:
    """(footprint, receptive field) of cell (row, col) in an image of image_hw: the stride x stride square the cell
    stands for, and the box its code was computed from, both clipped to the image."""
    height, width = image_hw
    s = level.stride

    def clip(top: int, left: int, size: int) -> Box:
        return (max(top, 0), max(left, 0), min(top + size, height), min(left + size, width))

    return clip(row * s, col * s, s), clip(row * s - level.offset, col * s - level.offset, level.receptive_field)


@dataclass
class CodePatch:
    """An item that uses a code: how many of its cells do, and the first such cell's boxes."""

    item: int
    count: int
    cell: tuple[int, int]
    footprint: Box
    receptive_field: Box


def code_patches(indices: np.ndarray, code: int, level: CodeLevel, image_hw: tuple[int, int],
                 top: int = 8) -> list[CodePatch]:
    """The `top` items (of indices (N, h, w)) whose grids use `code` most, most first (ties: lower item first)."""
    if not 0 <= code < level.codebook_size:
        raise ValueError(f"code {code} is outside the codebook of level {level.name!r}: codes run "
                         f"0..{level.codebook_size - 1}")
    hits = indices == code  # (N, h, w)
    per_item = hits.reshape(len(indices), -1).sum(1)
    order = np.lexsort((np.arange(len(per_item)), -per_item))[:top]
    patches = []
    for item in order:
        if per_item[item] == 0:
            break
        row, col = (int(v) for v in np.argwhere(hits[item])[0])
        footprint, field = cell_boxes(level, row, col, image_hw)
        patches.append(CodePatch(int(item), int(per_item[item]), (row, col), footprint, field))
    return patches


@dataclass
class CodebookMap:
    """The code vectors of one level placed in 2-D: coords (K, 2), and each code's usage count (K,) to size it."""

    coords: np.ndarray
    counts: np.ndarray
    explained_variance_ratio: np.ndarray


def codebook_pca(model: VAE, usage: UsageStats, level: int = 0) -> CodebookMap:
    """PCA of a level's code vectors (K, D), beside their data-set-level usage. FSQ's vectors are its lattice
    points (`CodeLevel.learned_codebook` False), whose PCA is the lattice seen from its two widest axes."""
    vectors = model.codebook(level).float().cpu().numpy()
    pca = fit_pca(vectors)
    return CodebookMap(pca.coords, usage.counts, pca.explained_variance_ratio)


@torch.no_grad()
def sample_from_usage(model: VAE, usages: Sequence[UsageStats], n: int,
                      generator: torch.Generator | None = None) -> tuple[Tensor, list[Tensor]]:
    """n images (n, C, H, W) decoded from indices drawn independently per cell from the data-set-level code
    frequencies, and the indices per level. The model has no learned prior, so cells ignore their neighbours and
    the images do not look like the data."""
    indices = []
    for level, usage in zip(model.code_levels(), usages):
        p = torch.as_tensor(usage.counts, dtype=torch.float64)
        if not p.sum() > 0:
            raise ValueError(f"level {level.name!r} has no counted codes to sample from")
        draw = torch.multinomial(p, n * math.prod(level.grid), replacement=True, generator=generator)
        indices.append(draw.view(n, *level.grid).to(model.device))
    return model.decode_indices(indices), indices


@torch.no_grad()
def reconstruction_metrics(model: VAE, images: Tensor, likelihood: str, batch_size: int = 256) -> dict[str, float]:
    """Any model's reconstruction of images (N, C, H, W) in [0, 1]: {"nll_per_pixel_nats": -log p(x | z) per value on
    the evaluation's fixed binarisation / dequantisation (one posterior draw, the mean for a discrete code),
    "psnr_db": PSNR of `reconstruct(x)` against x}; so discrete and Gaussian codes compare on one footing."""
    model.eval()
    scored = scoring_inputs(images, likelihood)
    gen = torch.Generator(device=model.device).manual_seed(0)
    nll, recon = 0.0, []
    for start in range(0, len(images), batch_size):
        x = scored[start:start + batch_size].to(model.device)
        nll += float(model.elbo_terms(x, gen)["nll"].sum())
        recon.append(model.reconstruct(images[start:start + batch_size].to(model.device)).cpu())
    return {"nll_per_pixel_nats": nll / images.numel(), "psnr_db": psnr(images, torch.cat(recon))}


@torch.no_grad()
def codebook_metrics(model: VAE, test: Dataset, likelihood: str, limit: int | None = None,
                     batch_size: int = 256) -> dict:
    """Reconstruction and data-set-level usage over a test split, for metrics.json: nll_per_pixel_nats, psnr_db, and
    per level (suffix _<level name> for a two-level model) codes_used, codes_used_share, dead_codes, perplexity,
    perplexity_over_k; with `metric_descriptions`, one line per key, that the card prints."""
    images, _ = stack_images(test, limit)
    metrics: dict = reconstruction_metrics(model, images, likelihood, batch_size)
    descriptions = {k: DESCRIPTIONS[k] for k in ("nll_per_pixel_nats", "psnr_db")}
    levels = model.code_levels()
    for level, indices in zip(levels, encode_indices_all(model, images, batch_size)):
        stats = usage_stats(indices, level.codebook_size)
        suffix = "" if len(levels) == 1 else f"_{level.name}"
        values = {"codes_used": stats.used, "codes_used_share": stats.share_in_use,
                  "dead_codes": len(stats.dead_codes), "perplexity": stats.perplexity,
                  "perplexity_over_k": stats.perplexity / level.codebook_size}
        for key, value in values.items():
            metrics[key + suffix] = value
            descriptions[key + suffix] = DESCRIPTIONS[key] + (f", level {level.name}" if suffix else "")
        metrics["codebook_size" + suffix] = level.codebook_size
    metrics["metric_descriptions"] = descriptions
    return metrics


def cellwise_path(start: np.ndarray, end: np.ndarray, steps: int, seed: int = 0) -> np.ndarray:
    """Grids (steps, h, w) going from index grid `start` (h, w) to `end` cell by cell: step t has the first
    round(t / (steps - 1) * m) of the m differing cells (in a seeded random order) switched to `end`'s code. Codes
    have no order between them, so there is no halfway code to blend; the path swaps whole cells."""
    if start.shape != end.shape:
        raise ValueError(f"the two code grids differ in shape: {start.shape} and {end.shape}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    differ = np.flatnonzero(start.reshape(-1) != end.reshape(-1))
    order = np.random.default_rng(seed).permutation(differ)
    path = np.repeat(start.reshape(1, -1), steps, axis=0)  # (steps, h * w)
    for t in range(steps):
        switched = order[: round(t / (steps - 1) * len(order))]
        path[t, switched] = end.reshape(-1)[switched]
    return path.reshape(steps, *start.shape)


def lattice_positions(vectors: np.ndarray) -> np.ndarray:
    """Each code vector's place (K, D) int on its lattice: per dimension, the rank of its value among that
    dimension's distinct values (rounded to 5 decimals; FSQ's levels: 0..L_d - 1), whatever order the indices
    enumerate them in."""
    return np.stack([np.unique(np.round(vectors[:, d], 5), return_inverse=True)[1].reshape(-1) for d in range(vectors.shape[1])], 1)


def nearest_codes(vectors: np.ndarray, code: int, k: int) -> np.ndarray:
    """The k codes (k,) whose vectors (of vectors (K, D)) lie nearest to `code`'s, nearest first, `code` itself
    excluded (ties: the lower index first): the steps of a walk along a code's neighbours."""
    if not 0 <= code < len(vectors):
        raise ValueError(f"code {code} is outside the codebook: codes run 0..{len(vectors) - 1}")
    d = np.linalg.norm(vectors.astype(np.float64) - vectors[code].astype(np.float64), axis=1)
    d[code] = np.inf
    return np.lexsort((np.arange(len(d)), d))[: min(k, len(d) - 1)]
