"""The per-checkpoint analysis arrays (`analysis.safetensors`): per-test-item scores, encoded means and maps.

Stored with safetensors (no pickle), so the app reads a model's map and score distribution at once.
Keys: test_means (N, D), test_labels (N,), score_<name> (N,), pca_coords (N, 2), pca_components (2, D),
pca_mean (D,), umap_coords (N, 2), tsne_coords (N, 2); any may be absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from explorer.files import atomic_save_safetensors

ANALYSIS_NAME = "analysis.safetensors"


def save_analysis(folder: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays atomically to folder/analysis.safetensors (float arrays stored as float32)."""
    folder = Path(folder)
    clean = {}
    for key, value in arrays.items():
        arr = np.ascontiguousarray(value)
        clean[key] = arr.astype(np.float32) if arr.dtype.kind == "f" else arr.astype(np.int64)
    return atomic_save_safetensors(clean, folder / ANALYSIS_NAME)


def load_analysis(folder: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a checkpoint's analysis file, or {} when it has none."""
    path = Path(folder) / ANALYSIS_NAME
    return dict(load_file(str(path))) if path.is_file() else {}
