"""Walking a latent space: slider axes, codes from slider values, traversal grids, and batched encode/decode.

Codes are handled flat, (D,) with D = prod(latent_shape), so vector codes (D,) and tensor codes (C, H, W)
share one path; `unflatten` restores the model's shape just before decoding. Every function is deterministic:
the same start code and slider values always give the same code, and decoding uses the likelihood mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explorer.pca import principal_components
from explorer.models.base import VAE, interpolate_codes

COLLAPSE_THRESHOLD = 0.01  # nats of mean KL per dimension below which a dimension counts as collapsed


@dataclass
class Axes:
    """K slider directions in the flat code space: code = start + sum_k value_k * scale_k * vector_k."""

    vectors: np.ndarray  # (K, D) unit vectors
    scales: np.ndarray  # (K,) size of one slider unit along each
    labels: list[str]  # one per axis, for the slider
    collapsed: np.ndarray  # (K,) bool, True for axes that carry (almost) no information
    kind: str  # "dims", "pca" or "attribute"

    def __len__(self) -> int:
        return len(self.scales)

    def subset(self, keep: np.ndarray | list[int]) -> "Axes":
        keep = np.asarray(keep, dtype=np.int64)
        return Axes(self.vectors[keep], self.scales[keep], [self.labels[i] for i in keep], self.collapsed[keep], self.kind)


def dim_label(index: int, latent_shape: tuple[int, ...]) -> str:
    """'z7' for vector codes, 'z[c,h,w]' for tensor codes."""
    if len(latent_shape) == 1:
        return f"z{index}"
    return "z[" + ",".join(str(i) for i in np.unravel_index(index, latent_shape)) + "]"


def dimension_axes(kl_per_dim: np.ndarray, latent_shape: tuple[int, ...], threshold: float = COLLAPSE_THRESHOLD,
                   max_axes: int | None = None, include_collapsed: bool = True) -> Axes:
    """Raw latent dimensions sorted by mean KL (most informative first), in units of the prior's sigma (1).

    max_axes keeps the first that many (vectors (K, D), not a D x D identity: a 4x64x64 code has 16,384
    dimensions, whose identity would take 2 GB); include_collapsed False drops the dimensions under threshold
    (unless every one is, when all are kept)."""
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    order = np.argsort(-kl, kind="stable")
    if not include_collapsed and (kl >= threshold).any():
        order = order[kl[order] >= threshold]
    if max_axes is not None:
        order = order[: max(0, int(max_axes))]
    vectors = np.zeros((len(order), len(kl)), dtype=np.float64)  # (K, D): one-hot rows
    vectors[np.arange(len(order)), order] = 1.0
    labels = [f"{dim_label(int(i), latent_shape)} (KL {kl[i]:.2f})" for i in order]
    return Axes(vectors, np.ones(len(order)), labels, kl[order] < threshold, "dims")


def principal_axes(means: np.ndarray, k: int = 8) -> Axes:
    """The first k principal directions of encoded means (N, D), in units of the means' spread (std) along each
    (`explorer.pca.principal_components`: largest-magnitude entry of each direction positive)."""
    x = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
    k = max(1, min(k, x.shape[1], max(1, len(x) - 1)))
    pcs = principal_components(x, k)
    labels = [f"PC{i + 1} ({100 * r:.0f}% of spread)" for i, r in enumerate(pcs.explained_variance_ratio)]
    return Axes(pcs.components, np.maximum(pcs.std, 1e-12), labels, pcs.std < 1e-6, "pca")


def _group_mean(codes: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    return codes[mask].mean(0) if mask.any() else None


def attribute_axes(codes: np.ndarray, labels_or_attributes: np.ndarray, pairs: list, names: list[str] | None = None) -> Axes:
    """Directions between mean codes: one axis per entry of `pairs`, from codes (N, D).

    With class labels (N,) ints, a pair (a, b) gives the direction from the mean code of class a to that of
    class b, labelled "a → b" (class names from `names` when given). With attributes (N, A) of 0/1 (CelebA's
    40), an entry is an attribute index or name and gives mean(with) - mean(without), labelled by its name.
    Each axis is a unit vector whose slider unit (scale) is the whole distance between the two means, so
    value 1 moves a code of the first group to where the second group sits on average. An axis whose groups
    are empty or coincide is marked collapsed (zero vector). kind "attribute".
    """
    x = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y = np.asarray(labels_or_attributes)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} codes but {len(y)} labels or attribute rows")
    vectors, scales, labels = [], [], []
    for entry in pairs:
        if y.ndim == 1:
            a, b = entry
            ma, mb = _group_mean(x, y == a), _group_mean(x, y == b)
            name_a, name_b = (names[a], names[b]) if names is not None else (str(a), str(b))
            labels.append(f"{name_a} → {name_b}")
        else:
            column = names.index(entry) if isinstance(entry, str) and names is not None else int(entry)
            on = y[:, column] > 0
            ma, mb = _group_mean(x, ~on), _group_mean(x, on)
            labels.append(names[column] if names is not None else f"attribute {column}")
        diff = mb - ma if ma is not None and mb is not None else np.zeros(x.shape[1])
        norm = float(np.linalg.norm(diff))
        vectors.append(diff / norm if norm > 0 else diff)
        scales.append(norm)
    scales_arr = np.asarray(scales, dtype=np.float64)
    return Axes(np.asarray(vectors, dtype=np.float64).reshape(len(pairs), x.shape[1]), np.maximum(scales_arr, 1e-12),
                labels, scales_arr < 1e-12, "attribute")


def walk_code(start: np.ndarray, axes: Axes, values: np.ndarray | list[float]) -> np.ndarray:
    """Flat code start + sum_k values_k * scales_k * vectors_k, shape (D,)."""
    v = np.asarray(values, dtype=np.float64) * axes.scales
    return np.asarray(start, dtype=np.float64).reshape(-1) + v @ axes.vectors


def traversal_codes(start: np.ndarray, axes: Axes, values: np.ndarray | list[float], steps: np.ndarray | list[float]) -> np.ndarray:
    """Codes (K * S, D): for each axis k and each step s, the walk with axis k's value replaced by s."""
    values = np.asarray(values, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    k, s = len(axes), len(steps)
    grid = np.repeat(values[None, None, :], k, 0).repeat(s, 1)  # (K, S, K)
    grid[np.arange(k), :, np.arange(k)] = steps
    return np.asarray(start, dtype=np.float64).reshape(-1) + (grid * axes.scales) @ axes.vectors  # (K, S, D)


def interpolation(z0: np.ndarray, z1: np.ndarray, steps: int, spherical: bool = False) -> np.ndarray:
    """Flat codes (steps, D) from z0 to z1 inclusive, linear or spherical."""
    a = torch.as_tensor(np.asarray(z0, dtype=np.float32).reshape(-1))
    b = torch.as_tensor(np.asarray(z1, dtype=np.float32).reshape(-1))
    return interpolate_codes(a, b, steps, spherical).numpy()


def prior_draw(latent_shape: tuple[int, ...], seed: int, temperature: float = 1.0) -> np.ndarray:
    """A flat code drawn from N(0, temperature^2 I) with its own seeded generator (no global state)."""
    gen = torch.Generator().manual_seed(int(seed))
    return (torch.randn(math.prod(latent_shape), generator=gen) * float(temperature)).numpy().astype(np.float64)


def _condition(model: VAE, condition: Tensor | np.ndarray | int | None, start: int = 0, stop: int | None = None) -> dict:
    """{"condition": ...} for a conditional model given one (a batch's slice of per-item classes), else {}."""
    if condition is None or not model.capabilities().condition_classes:
        return {}
    if isinstance(condition, (int, np.integer)):
        return {"condition": int(condition)}
    c = torch.as_tensor(np.asarray(condition, dtype=np.int64)).reshape(-1)
    return {"condition": c[start:stop].to(model.device)}


def decode(model: VAE, codes: np.ndarray | Tensor, seed: int = 0, condition: Tensor | np.ndarray | int | None = None) -> Tensor:
    """Flat codes (B, D) or (D,) -> displayed images (B, C, H, W) on the CPU (`model.decode_code`), under
    inference mode; the same code and seed give the same image. `condition` (one class or (B,) classes)
    reaches conditional models only."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32)) if not isinstance(codes, Tensor) else codes.float()
    z = z.reshape(-1, *model.latent_shape).to(model.device)
    with torch.inference_mode():
        return model.decode_code(z, seed, **_condition(model, condition)).float().cpu()


ZERO_CODE_CELLS = 8  # cells a side of the zero code decoded for a model whose decoder takes codes of any size


def zero_code_shape(model: VAE, cells: int = ZERO_CODE_CELLS) -> tuple[int, ...]:
    """The shape of the zero code decode_zero_code decodes: the model's latent shape, or at most `cells` cells a
    side of it where the decoder takes a spatial code of any size (`Capabilities.size_multiple` > 0)."""
    shape = tuple(model.latent_shape)
    if model.capabilities().size_multiple > 0 and len(shape) == 3:
        shape = (shape[0], min(shape[1], cells), min(shape[2], cells))
    return shape


def decode_zero_code(model: VAE, cells: int = ZERO_CODE_CELLS) -> Tensor:
    """The image (1, C, H, W) that the all-zero code of `zero_code_shape` decodes to, on the CPU: what a model draws
    when given nothing (the background of its images). A convolutional decoder paints a zero code the same colour at
    any size, and the whole code of an SD-sized model at 512 px takes about 20 s on 2 cores."""
    with torch.inference_mode():
        return model.decode_code(torch.zeros(1, *zero_code_shape(model, cells), device=model.device)).float().cpu()


def encode_means(model: VAE, images: Tensor, batch_size: int = 256,
                 condition: Tensor | np.ndarray | int | None = None) -> np.ndarray:
    """The codes pages show for images (N, C, H, W) (`model.encode_code`: the posterior mean unless the model
    says otherwise), flat (N, D) float32, batch by batch under inference mode. `condition` (one class or
    (N,) classes) reaches conditional models only."""
    parts = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(model.device)
            given = _condition(model, condition, start, start + batch_size)
            parts.append(model.encode_code(x, **given).flatten(1).float().cpu().numpy())
    if not parts:
        return np.zeros((0, math.prod(model.latent_shape)), dtype=np.float32)
    return np.concatenate(parts)


def pad_extent(dots: np.ndarray | None, floor: float = 0.0, margin: float = 0.08) -> list[list[float]]:
    """[[xlo, xhi], [ylo, yhi]]: the dots' bounding box with a margin, the same span on both axes (so the pad
    is not stretched), covering at least [-floor, floor]."""
    if dots is None or len(dots) == 0:
        lo, hi = np.array([-max(floor, 1.0)] * 2), np.array([max(floor, 1.0)] * 2)
    else:
        pts = np.asarray(dots, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(1)]
        lo, hi = pts.min(0), pts.max(0)
        lo, hi = np.minimum(lo, -floor), np.maximum(hi, floor)
    centre, half = (lo + hi) / 2, float(np.max(hi - lo)) / 2 * (1 + margin)
    half = max(half, 1e-3)
    return [[float(c - half), float(c + half)] for c in centre]


def plane_grid(lo: tuple[float, float], hi: tuple[float, float], n: int) -> np.ndarray:
    """Codes (n * n, 2) on a regular grid over a 2-D latent plane, top row = highest y (as a plot shows it)."""
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(hi[1], lo[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def style_class_grid(model: VAE, codes: np.ndarray | Tensor, classes: list[int] | np.ndarray, seed: int = 0) -> Tensor:
    """Style x class: every flat code (N, D) decoded under every class of a conditional model, as images
    (N * len(classes), C, H, W) on the CPU in row-major order (row = code, column = class), under inference
    mode. Codes encoded from images of one class and decoded under another show "this 3 written as a 7"."""
    k = model.capabilities().condition_classes
    if k < 1:
        raise ValueError(f"the {model.family!r} model is not conditional (capabilities().condition_classes = 0)")
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32)) if not isinstance(codes, Tensor) else codes.float()
    z = z.reshape(-1, *model.latent_shape).to(model.device)
    c = torch.as_tensor(np.asarray(classes, dtype=np.int64)).reshape(-1).to(model.device)
    n, m = len(z), len(c)
    with torch.inference_mode():
        images = model.decode_code(z.repeat_interleave(m, 0), seed, condition=c.repeat(n))  # (N * M, C, H, W)
    return images.float().cpu()
