"""Principal components of many points, without a centred float64 copy of them.

Up to EXACT_PCA_MAX values the full SVD of the centred points; above it, few dimensions go through the D x D
covariance (exact) and many through a randomized SVD with implicit centring. Below latent.py and analysis/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_PCA_MAX = 4_000_000  # N * D up to which PCA is the full SVD of the centred points (float64)
COVARIANCE_PCA_MAX_DIMS = 256  # above EXACT_PCA_MAX: D up to this goes through the D x D covariance (exact)
PCA_CHUNK = 65_536  # rows per chunk when streaming over many points
RANDOMIZED_OVERSAMPLE, RANDOMIZED_POWER_ITERS = 10, 6


@dataclass
class PCAMap:
    """A fitted 2-D PCA: coordinates of the fitted points, and what is needed to project new ones exactly."""

    coords: np.ndarray  # (N, 2)
    components: np.ndarray  # (2, D)
    mean: np.ndarray  # (D,)
    explained_variance_ratio: np.ndarray  # (2,)

    def project(self, points: np.ndarray) -> np.ndarray:
        return project_pca(points, self.components, self.mean)


@dataclass
class PrincipalComponents:
    """The leading principal directions of (N, D) points, largest spread first."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D) unit vectors; the largest-magnitude entry of each is positive
    std: np.ndarray  # (k,) standard deviation (ddof 1) of the points along each direction
    explained_variance_ratio: np.ndarray  # (k,) share of the total variance along each direction


def _chunks(n: int, size: int | None = None):
    size = size or PCA_CHUNK  # read at call time, so that a smaller chunk can be set for tests
    return ((start, min(start + size, n)) for start in range(0, n, size))


def _column_mean(x: np.ndarray) -> np.ndarray:
    total = np.zeros(x.shape[1])
    for a, b in _chunks(len(x)):
        total += x[a:b].sum(0, dtype=np.float64)
    return total / max(len(x), 1)


def _covariance_svd(x: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(singular values, right singular vectors) of the centred points from their D x D scatter matrix."""
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for a, b in _chunks(len(x)):
        c = x[a:b].astype(np.float64) - mean
        scatter += c.T @ c
    values, vectors = np.linalg.eigh(scatter)
    order = np.argsort(values)[::-1]
    return np.sqrt(np.maximum(values[order], 0.0)), vectors[:, order].T


def _randomized_svd(x: np.ndarray, mean: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Halko et al.'s randomized SVD of the centred points without forming them: (k singular values,
    (k, D) right vectors, total squared spread). Centring is implicit: (X - 1 m^T) M = X M - 1 (m^T M)."""
    rng = np.random.default_rng(seed)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    mean_t = mean.astype(dtype)
    width = min(k + RANDOMIZED_OVERSAMPLE, x.shape[1])

    def times(m: np.ndarray) -> np.ndarray:  # (X - mean) @ m, (N, width)
        return x @ m.astype(dtype) - mean_t @ m.astype(dtype)

    def times_t(y: np.ndarray) -> np.ndarray:  # (X - mean).T @ y, (D, width)
        y = y.astype(dtype)
        return (x.T @ y).astype(np.float64) - np.outer(mean, y.sum(0, dtype=np.float64))

    q, _ = np.linalg.qr(times(rng.standard_normal((x.shape[1], width))))
    for _ in range(RANDOMIZED_POWER_ITERS):
        q, _ = np.linalg.qr(times_t(q))
        q, _ = np.linalg.qr(times(q))
    _, s, vt = np.linalg.svd(times_t(q).T, full_matrices=False)  # the small (width, D) problem Q^T (X - mean)
    total = 0.0
    for a, b in _chunks(len(x)):
        total += float(((x[a:b].astype(np.float64) - mean) ** 2).sum())
    return s[:k], vt[:k], total


def principal_components(points: np.ndarray, k: int, seed: int = 0) -> PrincipalComponents:
    """The first k principal directions of (N, D) points (k <= min(N, D)).

    Up to N * D = EXACT_PCA_MAX: the SVD of the centred points in float64. Beyond: for D up to
    COVARIANCE_PCA_MAX_DIMS the (exact) eigenvectors of the D x D scatter matrix, streamed over chunks of
    rows; for more dimensions a seeded randomized SVD (power iterations, implicit centring) in the points'
    own precision. No path copies all the points to float64.

    Sign convention (as scikit-learn's PCA since 1.5): the largest-magnitude entry of every direction is
    positive, so directions do not flip between runs. The one PCA of the project: maps and slider axes use it.
    """
    x = np.asarray(points)
    x = x.reshape(len(x), -1)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    n, d = x.shape
    if n * d <= EXACT_PCA_MAX:
        x = x.astype(np.float64)
        mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        total = float((s**2).sum())
    else:
        mean = _column_mean(x)
        if d <= COVARIANCE_PCA_MAX_DIMS:
            s, vt = _covariance_svd(x, mean)
            total = float((s**2).sum())
        else:
            s, vt, total = _randomized_svd(x, mean, min(k, n, d), seed)
    k = min(k, len(s))
    vt = vt[:k]
    signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(1)])
    signs[signs == 0] = 1.0
    total = total or 1.0
    return PrincipalComponents(mean, vt * signs[:, None], s[:k] / np.sqrt(max(1, n - 1)), s[:k] ** 2 / total)


def fit_pca(means: np.ndarray, n_components: int = 2) -> PCAMap:
    """PCA of (N, D) means (D may be 1: the second axis is then zero)."""
    means = np.asarray(means)
    means = means.reshape(len(means), -1) if means.dtype in (np.float32, np.float64) else means.astype(np.float64)
    pcs = principal_components(means, min(n_components, means.shape[1], means.shape[0]))
    k = len(pcs.std)
    components = np.zeros((n_components, means.shape[1]))
    components[:k] = pcs.components
    ratio = np.zeros(n_components)
    ratio[:k] = pcs.explained_variance_ratio
    return PCAMap(project_pca(means, components, pcs.mean), components, pcs.mean, ratio)


def project_pca(points: np.ndarray, components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Exact PCA projection of (M, D) points: (points - mean) @ components.T -> (M, 2), in float64, chunk by
    chunk (points @ C.T - mean @ C.T, so no centred copy of many points is made)."""
    points = np.asarray(points)
    components = np.asarray(components, dtype=np.float64)
    offset = np.asarray(mean, dtype=np.float64) @ components.T
    if points.size <= EXACT_PCA_MAX:
        return (points.astype(np.float64) - mean) @ components.T
    out = np.empty((len(points), len(components)))
    for a, b in _chunks(len(points)):
        out[a:b] = points[a:b].astype(np.float64) @ components.T - offset
    return out


def attribute_direction_map(points: np.ndarray, direction: np.ndarray, second: np.ndarray | None = None) -> PCAMap:
    """A 2-D map of (N, D) codes read along an attribute direction (explorer.latent.attribute_axes' vectors).

    x: each code's projection on `direction` (D,) (made unit length), centred on the codes' mean, in code
    units, so the with/without (or class a/class b) groups spread left to right. y: the projection on `second`
    (D,) when given (made unit length but not orthogonalised, so it reads as that direction's own position);
    otherwise the first principal direction of the codes with their `direction` part removed (the largest
    spread the first axis does not explain; `principal_components`, so its sign is stable). Returned as a
    PCAMap: `components` (2, D) are the two read-out directions, so `project` places new codes exactly, and
    `explained_variance_ratio` (2,) is the share of the codes' total variance along each.
    """
    x = np.asarray(points)
    x = x.reshape(len(x), -1)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    d = x.shape[1]

    def unit(v: np.ndarray, what: str) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.size != d:
            raise ValueError(f"the {what} has {v.size} entries but the codes have {d}")
        norm = float(np.linalg.norm(v))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError(f"the {what} is zero (its two groups have the same mean code, or one is empty)")
        return v / norm

    u = unit(direction, "direction")
    if second is not None:
        v = unit(second, "second direction")
    elif d == 1:
        v = np.zeros(1)  # nothing is left beside the one direction
    else:
        rest = x @ (np.eye(d) - np.outer(u, u)).astype(x.dtype)  # (N, D) codes without their u part
        v = principal_components(rest, 1).components[0] if len(x) > 1 else np.zeros(d)
    components = np.stack([u, v])  # (2, D)
    mean = _column_mean(x) if x.size > EXACT_PCA_MAX else x.astype(np.float64).mean(0)
    coords = project_pca(x, components, mean)  # (N, 2)
    if len(x) > 1:
        ratio = coords.var(0, ddof=1) / (_total_variance(x, mean) or 1.0)
    else:
        ratio = np.zeros(2)
    return PCAMap(coords, components, mean, ratio)


def _total_variance(x: np.ndarray, mean: np.ndarray) -> float:
    """Sum over dimensions of the (ddof 1) variance of (N, D) points, chunk by chunk."""
    total = 0.0
    for a, b in _chunks(len(x)):
        total += float(((x[a:b].astype(np.float64) - mean) ** 2).sum())
    return total / max(1, len(x) - 1)
