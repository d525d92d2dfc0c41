"""The big-map demo's points (tests/browser/bigmap_demo_app.py), which its tests and bench/bench_big_map.py
draw too."""

from __future__ import annotations

import numpy as np


def clustered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coords (n, 2) float32, labels (n,) int64, values (n,) float32): 10 Gaussian clusters of uneven size."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3.0, 3.0, size=(10, 2))
    spread = rng.uniform(0.15, 0.6, size=10)
    weights = rng.dirichlet(np.ones(10) * 3)
    labels = rng.choice(10, size=n, p=weights)
    coords = (centres[labels] + rng.standard_normal((n, 2)) * spread[labels, None]).astype(np.float32)
    values = -np.linalg.norm(coords - centres[labels], axis=1).astype(np.float32) * 40 - 90  # an "ELBO"-like value
    return coords, labels, values
