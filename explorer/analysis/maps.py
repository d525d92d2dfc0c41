"""2-D maps of encoded means: PCA (explorer.pca, exact projection of new points), UMAP and t-SNE.

At scale: UMAP and t-SNE of more than `fit_size`
points are fitted on a seeded sample and place the rest with the fitted model's `transform`; cuML's UMAP is
used when it imports and a GPU is present (`umap_backend`); `check_map_memory` refuses up front a map that
would not fit in memory (the app and the notebook keep results in explorer.cache: explorer/analysis/map_jobs.py).

UMAP and openTSNE are imported lazily: umap-learn compiles with numba on first use (tens of seconds), which
must never happen at import time or on an interactive path that has precomputed coordinates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.pca import PCA_CHUNK, RANDOMIZED_OVERSAMPLE, fit_pca

MAP_METHODS = ("pca", "umap", "tsne")

# progress(fraction in [0, 1], stage text): how far a UMAP / t-SNE computation has come
Progress = Callable[[float, str], None]
UMAP_NEIGHBOUR_SHARE = 0.15  # share of the bar given to UMAP's nearest-neighbour graph (before the epochs)
TSNE_EVERY = 25  # openTSNE iterations between progress reports (each costs one evaluation of the KL)
TRANSFORM_CHUNK = 20_000  # points placed per `transform` call (for progress and bounded memory)


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


def fit_sample(n: int, fit_size: int | None, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of the seeded sample of `fit_size` of n points a map is fitted on; None for all of them."""
    if fit_size is None or fit_size <= 0 or n <= fit_size:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=fit_size, replace=False))


def _fit_then_place(means: np.ndarray, fit_size: int | None, seed: int, fit: Callable[[np.ndarray], tuple[np.ndarray, object]],
                    place: Callable[[object, np.ndarray], np.ndarray], progress: Progress, fit_share: float) -> np.ndarray:
    """Fit on the sample (or all points), then place the others with the fitted model, TRANSFORM_CHUNK at a time."""
    picked = fit_sample(len(means), fit_size, seed)
    if picked is None:
        coords, _ = fit(means)
        return coords
    coords_fit, model = fit(means[picked])
    out = np.empty((len(means), 2), dtype=np.float32)
    out[picked] = coords_fit
    rest = np.setdiff1d(np.arange(len(means)), picked, assume_unique=True)
    for start in range(0, len(rest), TRANSFORM_CHUNK):
        idx = rest[start : start + TRANSFORM_CHUNK]
        out[idx] = place(model, means[idx])
        done = min(start + TRANSFORM_CHUNK, len(rest))
        progress(fit_share + (1 - fit_share) * done / len(rest), f"placing the other points, {done:,} of {len(rest):,}")
    return out


def umap_backend() -> str:
    """"cuml" when RAPIDS cuML imports and a CUDA GPU is present, else "umap-learn"."""
    try:
        import torch

        if not torch.cuda.is_available():
            return "umap-learn"
        import cuml  # noqa: F401
    except ImportError:
        return "umap-learn"
    return "cuml"


def compute_umap(means: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
                 progress: Progress | None = None, fit_size: int | None = None) -> np.ndarray:
    """UMAP coordinates (N, 2) of (N, D) means; seeded (single-threaded, so reproducible).

    Beyond fit_size points, UMAP is fitted on a seeded sample of fit_size and the others are placed with
    its `transform`. cuML's UMAP is used where `umap_backend()` says so (GPU runs are not bit-reproducible).
    progress(fraction, stage) is called as the work goes: loading umap-learn, the nearest-neighbour graph,
    then every layout epoch, then the placing of the rest."""
    progress = progress or _no_progress
    means = np.asarray(means, dtype=np.float32)
    sampled = fit_sample(len(means), fit_size, seed) is not None
    fit_share = 0.7 if sampled else 1.0
    scaled = (lambda f, stage: progress(f * fit_share, stage)) if sampled else progress
    backend = umap_backend()

    def fit(points: np.ndarray):
        neighbours = min(n_neighbors, len(points) - 1)
        if backend == "cuml":
            import cuml

            scaled(0.02, "UMAP on the GPU (cuML)")
            reducer = cuml.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist, random_state=seed)
        else:
            scaled(0.0, "loading UMAP (numba compiles it on first use)")
            import umap

            scaled(0.02, "finding nearest neighbours")
            # n_jobs=1 as the seed makes it anyway: left at its default (-1), UMAP warns that it overrides it
            reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist, random_state=seed, n_jobs=1,
                                tqdm_kwds={"disable": False, "file": _EpochReader(scaled), "bar_format": "{n}/{total}",
                                           "mininterval": 0.25})
        return np.asarray(reducer.fit_transform(points), dtype=np.float32), reducer

    coords = _fit_then_place(means, fit_size, seed, fit, lambda r, p: np.asarray(r.transform(p), dtype=np.float32),
                             progress, fit_share)
    progress(1.0, "done")
    return coords


def compute_tsne(means: np.ndarray, seed: int = 0, perplexity: float = 30.0, progress: Progress | None = None,
                 fit_size: int | None = None) -> np.ndarray:
    """openTSNE coordinates (N, 2) of (N, D) means; seeded. progress(fraction, stage) every few iterations.
    Beyond fit_size points, fitted on a seeded sample and the rest placed with `TSNEEmbedding.transform`."""
    progress = progress or _no_progress
    progress(0.0, "loading openTSNE")
    from openTSNE import TSNE

    means = np.asarray(means, dtype=np.float64)
    sampled = fit_sample(len(means), fit_size, seed) is not None
    fit_share = 0.8 if sampled else 1.0

    def fit(points: np.ndarray):
        perp = min(perplexity, max(2.0, (len(points) - 1) / 3))
        phases = _TSNEPhases(lambda f, stage: progress(f * fit_share, stage))
        tsne = TSNE(perplexity=perp, random_state=seed, n_jobs=1, verbose=False, callbacks=phases,
                    callbacks_every_iters=TSNE_EVERY)
        phases.set_phases((("early exaggeration", tsne.early_exaggeration_iter), ("optimising", tsne.n_iter)))
        progress(0.0, "finding nearest neighbours")
        embedding = tsne.fit(points)
        return np.asarray(embedding, dtype=np.float32), embedding

    coords = _fit_then_place(means, fit_size, seed, fit,
                             lambda e, p: np.asarray(e.transform(p), dtype=np.float32), progress, fit_share)
    progress(1.0, "done")
    return np.asarray(coords, dtype=np.float32)


# -- memory: refuse up front what cannot fit ------------------------------------------------------------
class MapTooLargeError(MemoryError):
    """A map request that would need more memory than the machine has; the message gives both sizes."""


def available_memory_bytes() -> int:
    """Memory available to new allocations: psutil's `available` when installed, else MemAvailable of
    /proc/meminfo; a large number where neither can be read (the check then passes)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def map_memory_bytes(n_items: int, dims: int, method: str, fit_size: int | None = None, n_neighbors: int = 15) -> int:
    """Rough peak bytes a map of (n_items, dims) float32 codes needs beyond the codes themselves: PCA streams
    (chunks, the D x D scatter or the randomized sketch, and the (N, 2) coordinates); UMAP holds a float32
    copy plus its k-nearest-neighbour graph (indices, distances and the fuzzy graph, about 64 bytes a
    neighbour) for the fitted points; t-SNE a float64 copy plus ~3 x perplexity neighbours a point."""
    n, d = int(n_items), int(dims)
    fitted = n if not fit_size or fit_size >= n else int(fit_size)
    coords = n * 2 * 8
    if method == "pca":
        return coords + PCA_CHUNK * d * 8 * 2 + d * d * 8 + n * (RANDOMIZED_OVERSAMPLE + 2) * 8 * 2
    if method == "umap":
        return coords + fitted * d * 4 + fitted * n_neighbors * 64 + min(n, TRANSFORM_CHUNK) * (d * 4 + n_neighbors * 64)
    if method == "tsne":
        return coords + fitted * d * 8 + fitted * 90 * 24 + min(n, TRANSFORM_CHUNK) * (d * 8 + 90 * 24)
    raise ValueError(f"unknown map method {method!r}; choose from {MAP_METHODS}")


def _gib(n: int) -> str:
    """A size for a message: GiB from 1 GiB up, MB below (so a small refusal does not read "0.0 GiB")."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{max(n, 0) / 2**20:.1f} MB"


def check_map_memory(n_items: int, dims: int, method: str, fit_size: int | None = None,
                     available: int | None = None) -> int:
    """The bytes `map_memory_bytes` estimates, or MapTooLargeError when more than the available memory."""
    need = map_memory_bytes(n_items, dims, method, fit_size)
    have = available_memory_bytes() if available is None else int(available)
    if need > have:
        hint = " (fit it on a sample: fit_size / --map-fit-size)" if method != "pca" and not fit_size else ""
        raise MapTooLargeError(f"a {method.upper()} map of {n_items:,} codes of {dims:,} dimensions needs about "
                               f"{_gib(need)} but {_gib(have)} is available{hint}")
    return need


def compute_map(means: np.ndarray, method: str, seed: int = 0, progress: Progress | None = None,
                fit_size: int | None = None, **params: float) -> np.ndarray:
    """(N, 2) coordinates by method name: 'pca', 'umap' or 'tsne'. UMAP and t-SNE beyond `fit_size` points
    are fitted on a seeded sample and place the rest. Refused up front (MapTooLargeError, with the size it
    would need) when it cannot fit in memory."""
    if method not in MAP_METHODS:
        raise ValueError(f"unknown map method {method!r}; choose from {MAP_METHODS}")
    means = np.asarray(means)
    check_map_memory(len(means), int(np.prod(means.shape[1:])) if means.ndim > 1 else 1, method, fit_size)
    if method == "pca":
        return fit_pca(means).coords.astype(np.float32)
    if method == "umap":
        return compute_umap(means, seed=seed, progress=progress, fit_size=fit_size, **params)
    return compute_tsne(means, seed=seed, progress=progress, fit_size=fit_size, **params)


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
