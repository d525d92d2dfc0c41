"""The posterior means of every item of a factor grid, encoded once per model and cached by weights digest.

For a deterministic renderer (dSprites here) the means of the whole grid are exact: every metric then looks up
the items it draws (`CodeSource(grid, means=...)`) instead of rendering and encoding them again. The entry is
`models/<digest>/factors/<grid>-<grid.cache_tag>.safetensors` in explorer.cache, holding `means` (items, D) float32; its
metadata names the grid's factor sizes, so a different grid never matches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from explorer.analysis.disentanglement.sampling import Encode
from explorer.cache import entry_path, read_entry, weights_digest, write_entry
from explorer.data.factors import FactorGrid

def encode_grid(encode: Encode, grid: FactorGrid, batch_size: int = 1024,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Means (len(grid), D) float32 of every grid item in index order, `batch_size` images at a time;
    `progress(done, total)` after each batch."""
    total = len(grid)
    parts = []
    for start in range(0, total, batch_size):
        index = np.arange(start, min(start + batch_size, total))
        parts.append(np.asarray(encode(grid.images(grid.factors_of(index))), dtype=np.float32))
        if progress:
            progress(int(index[-1]) + 1, total)
    return np.concatenate(parts)


def cached_grid_means(model_path: str | Path, encode: Encode, grid: FactorGrid, cache_dir: str | Path | None = None,
                      batch_size: int = 1024, progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, dict]:
    """(means (len(grid), D), info) for the model whose weights are under `model_path`: read from the cache when
    this grid was encoded before, else encoded (`encode`, the model's posterior means) and stored. info says
    whether it was cached and how long encoding took."""
    digest = weights_digest(model_path)
    path = entry_path(digest, "factors", f"{grid.name}-{grid.cache_tag}.safetensors", cache_dir)
    sizes = ",".join(str(s) for s in grid.factor_sizes)
    found = read_entry(path)
    if found is not None:
        arrays, meta = found
        means = arrays.get("means")
        if means is not None and meta.get("factor_sizes") == sizes and len(means) == len(grid):
            return means, {"cached": True, "path": str(path), "seconds": 0.0}
    t0 = time.perf_counter()
    means = encode_grid(encode, grid, batch_size, progress)
    seconds = time.perf_counter() - t0
    write_entry(path, {"means": means}, {"factor_sizes": sizes, "grid": grid.name, "codes": "posterior means",
                                         "seconds": f"{seconds:.1f}"})
    return means, {"cached": False, "path": str(path), "seconds": seconds}
