"""2-D maps of encoded means: PCA (exact projection of new points), UMAP and t-SNE.

UMAP and openTSNE are imported lazily: umap-learn compiles with numba on first use (tens of seconds), which
must never happen at import time or on an interactive path that has precomputed coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAP_METHODS = ("pca", "umap", "tsne")


@dataclass
class PCAMap:
    """A fitted 2-D PCA: coordinates of the fitted points, and what is needed to project new ones exactly."""

    coords: np.ndarray  # (N, 2)
    components: np.ndarray  # (2, D)
    mean: np.ndarray  # (D,)
    explained_variance_ratio: np.ndarray  # (2,)

    def project(self, points: np.ndarray) -> np.ndarray:
        return project_pca(points, self.components, self.mean)


def fit_pca(means: np.ndarray, n_components: int = 2) -> PCAMap:
    """PCA of (N, D) means (D may be 1: the second axis is then zero)."""
    from sklearn.decomposition import PCA

    means = np.asarray(means, dtype=np.float64)
    k = min(n_components, means.shape[1], means.shape[0])
    pca = PCA(n_components=k, svd_solver="full").fit(means)
    components = np.zeros((n_components, means.shape[1]))
    components[:k] = pca.components_
    ratio = np.zeros(n_components)
    ratio[:k] = pca.explained_variance_ratio_
    return PCAMap(project_pca(means, components, pca.mean_), components, pca.mean_, ratio)


def project_pca(points: np.ndarray, components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Exact PCA projection of (M, D) points: (points - mean) @ components.T -> (M, 2)."""
    return (np.asarray(points, dtype=np.float64) - mean) @ np.asarray(components, dtype=np.float64).T


def compute_umap(means: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """UMAP coordinates (N, 2) of (N, D) means; seeded (single-threaded, so reproducible)."""
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(means) - 1), min_dist=min_dist, random_state=seed)
    return np.asarray(reducer.fit_transform(np.asarray(means, dtype=np.float32)), dtype=np.float32)


def compute_tsne(means: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """openTSNE coordinates (N, 2) of (N, D) means; seeded."""
    from openTSNE import TSNE

    perplexity = min(perplexity, max(2.0, (len(means) - 1) / 3))
    embedding = TSNE(perplexity=perplexity, random_state=seed, n_jobs=1, verbose=False).fit(np.asarray(means, dtype=np.float64))
    return np.asarray(embedding, dtype=np.float32)


def compute_map(means: np.ndarray, method: str, seed: int = 0, **params: float) -> np.ndarray:
    """(N, 2) coordinates by method name: 'pca', 'umap' or 'tsne'."""
    if method == "pca":
        return fit_pca(means).coords.astype(np.float32)
    if method == "umap":
        return compute_umap(means, seed=seed, **params)
    if method == "tsne":
        return compute_tsne(means, seed=seed, **params)
    raise ValueError(f"unknown map method {method!r}; choose from {MAP_METHODS}")


def place_by_neighbours(points: np.ndarray, ref_means: np.ndarray, ref_coords: np.ndarray, k: int = 10) -> np.ndarray:
    """Place new (M, D) points on a non-parametric map: the inverse-distance-weighted mean of the map positions
    of their k nearest reference means. A point equal to a reference lands exactly on it. Returns (M, 2)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    ref = np.asarray(ref_means, dtype=np.float64)
    k = min(k, len(ref))
    d2 = (points**2).sum(1, keepdims=True) - 2 * points @ ref.T + (ref**2).sum(1)  # (M, N)
    dist = np.sqrt(np.maximum(d2, 0.0))
    idx = np.argpartition(dist, k - 1, axis=1)[:, :k]  # (M, k)
    near = np.take_along_axis(dist, idx, axis=1)
    weights = 1.0 / np.maximum(near, 1e-9)
    weights /= weights.sum(1, keepdims=True)
    return (weights[..., None] * np.asarray(ref_coords, dtype=np.float64)[idx]).sum(1)


def parse_map_methods(text: str) -> list[str]:
    """'pca,umap' -> ['pca', 'umap']; 'none' or '' -> []. Unknown names raise ValueError."""
    if not text or text.strip().lower() == "none":
        return []
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in MAP_METHODS]
    if bad:
        raise ValueError(f"unknown map method(s) {bad}; choose from {', '.join(MAP_METHODS)} or 'none'")
    return names
