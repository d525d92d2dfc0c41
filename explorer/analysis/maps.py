"""2-D maps of encoded means: PCA (exact projection of new points), UMAP and t-SNE.

UMAP and openTSNE are imported lazily: umap-learn compiles with numba on first use (tens of seconds), which
must never happen at import time or on an interactive path that has precomputed coordinates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

MAP_METHODS = ("pca", "umap", "tsne")

# progress(fraction in [0, 1], stage text): how far a UMAP / t-SNE computation has come
Progress = Callable[[float, str], None]
UMAP_NEIGHBOUR_SHARE = 0.15  # share of the bar given to UMAP's nearest-neighbour graph (before the epochs)
TSNE_EVERY = 25  # openTSNE iterations between progress reports (each costs one evaluation of the KL)


def _no_progress(fraction: float, stage: str) -> None:
    pass


class _EpochReader:
    """A file for tqdm: umap-learn shows its layout epochs with tqdm (documented `tqdm_kwds`); with
    bar_format "{n}/{total}" every refresh writes "n/total", which this turns into progress calls."""

    pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress):
        self.progress = progress

    def write(self, text: str) -> int:
        found = self.pattern.findall(text)
        if found:
            n, total = (int(v) for v in found[-1])
            share = UMAP_NEIGHBOUR_SHARE + (1 - UMAP_NEIGHBOUR_SHARE) * n / max(total, 1)
            self.progress(min(share, 1.0), f"optimising the layout, epoch {n} of {total}")
        return len(text)

    def flush(self) -> None:
        pass


class _TSNEPhases:
    """openTSNE callback: counts its two optimisation phases (early exaggeration, then the main run)."""

    def __init__(self, progress: Progress):
        self.progress, self.phase = progress, -1
        self.set_phases((("optimising", 1),))

    def set_phases(self, phases: tuple[tuple[str, int], ...]) -> None:
        self.phases, self.total = phases, max(sum(n for _, n in phases), 1)

    def optimization_about_to_start(self) -> None:
        self.phase = min(self.phase + 1, len(self.phases) - 1)

    def __call__(self, iteration: int, error: float, embedding) -> bool:
        name, _ = self.phases[max(self.phase, 0)]
        done = sum(n for _, n in self.phases[: max(self.phase, 0)]) + iteration
        self.progress(min(done / self.total, 1.0), f"{name}, iteration {done} of {self.total} (KL {error:.3f})")
        return False  # never stop early


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


def principal_components(points: np.ndarray, k: int) -> PrincipalComponents:
    """The first k principal directions of (N, D) points by SVD of the centred points (k <= min(N, D)).

    Sign convention (as scikit-learn's PCA since 1.5): the largest-magnitude entry of every direction is
    positive, so directions do not flip between runs. The one PCA of the project: maps and slider axes use it.
    """
    x = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(k, len(s))
    vt = vt[:k]
    signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(1)])
    signs[signs == 0] = 1.0
    total = float((s**2).sum()) or 1.0
    return PrincipalComponents(mean, vt * signs[:, None], s[:k] / np.sqrt(max(1, len(x) - 1)), s[:k] ** 2 / total)


def fit_pca(means: np.ndarray, n_components: int = 2) -> PCAMap:
    """PCA of (N, D) means (D may be 1: the second axis is then zero)."""
    means = np.asarray(means, dtype=np.float64)
    pcs = principal_components(means, min(n_components, means.shape[1], means.shape[0]))
    k = len(pcs.std)
    components = np.zeros((n_components, means.shape[1]))
    components[:k] = pcs.components
    ratio = np.zeros(n_components)
    ratio[:k] = pcs.explained_variance_ratio
    return PCAMap(project_pca(means, components, pcs.mean), components, pcs.mean, ratio)


def project_pca(points: np.ndarray, components: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Exact PCA projection of (M, D) points: (points - mean) @ components.T -> (M, 2)."""
    return (np.asarray(points, dtype=np.float64) - mean) @ np.asarray(components, dtype=np.float64).T


def compute_umap(means: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                 progress: Progress | None = None) -> np.ndarray:
    """UMAP coordinates (N, 2) of (N, D) means; seeded (single-threaded, so reproducible).

    progress(fraction, stage) is called as the work goes: loading umap-learn, the nearest-neighbour graph,
    then every layout epoch."""
    progress = progress or _no_progress
    progress(0.0, "loading UMAP (numba compiles it on first use)")
    import umap

    progress(0.02, "finding nearest neighbours")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(means) - 1), min_dist=min_dist, random_state=seed,
                        tqdm_kwds={"disable": False, "file": _EpochReader(progress), "bar_format": "{n}/{total}",
                                   "mininterval": 0.25})
    coords = np.asarray(reducer.fit_transform(np.asarray(means, dtype=np.float32)), dtype=np.float32)
    progress(1.0, "done")
    return coords


def compute_tsne(means: np.ndarray, seed: int = 0, perplexity: float = 30.0, progress: Progress | None = None) -> np.ndarray:
    """openTSNE coordinates (N, 2) of (N, D) means; seeded. progress(fraction, stage) every few iterations."""
    progress = progress or _no_progress
    progress(0.0, "loading openTSNE")
    from openTSNE import TSNE

    perplexity = min(perplexity, max(2.0, (len(means) - 1) / 3))
    phases = _TSNEPhases(progress)
    tsne = TSNE(perplexity=perplexity, random_state=seed, n_jobs=1, verbose=False, callbacks=phases,
                callbacks_every_iters=TSNE_EVERY)
    phases.set_phases((("early exaggeration", tsne.early_exaggeration_iter), ("optimising", tsne.n_iter)))
    progress(0.0, "finding nearest neighbours")
    embedding = tsne.fit(np.asarray(means, dtype=np.float64))
    progress(1.0, "done")
    return np.asarray(embedding, dtype=np.float32)


def compute_map(means: np.ndarray, method: str, seed: int = 0, progress: Progress | None = None, **params: float) -> np.ndarray:
    """(N, 2) coordinates by method name: 'pca', 'umap' or 'tsne'."""
    if method == "pca":
        return fit_pca(means).coords.astype(np.float32)
    if method == "umap":
        return compute_umap(means, seed=seed, progress=progress, **params)
    if method == "tsne":
        return compute_tsne(means, seed=seed, progress=progress, **params)
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
