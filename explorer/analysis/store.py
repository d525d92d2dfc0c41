"""The per-checkpoint analysis arrays (`analysis.safetensors`): per-test-item scores, encoded means and maps; and the
catalogue of stored encodings (`stored_encodings`), described from their manifests alone.

Stored with safetensors (no pickle), so the app reads a model's map and score distribution at once.
Keys: test_means (N, D), test_labels (N,), score_<name> (N,), pca_coords (N, 2), pca_components (2, D),
pca_mean (D,), umap_coords (N, 2), tsne_coords (N, 2); any may be absent.

The same pair (analysis.safetensors + metrics.json) describes an evaluation on another data set
(`python -m explorer.cli.evaluate`); `find_evaluations` lists a model's, `load_evaluation` reads one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from explorer.analysis.encode_dataset import ENCODE_KIND, MANIFEST
from explorer.cache import model_cache_dir, weights_digest
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


EVAL_DIR = "eval"  # MODEL/eval/<dataset>/: evaluations written by `python -m explorer.cli.evaluate`
EVAL_KIND = "eval"  # ... or, for a model folder that cannot be written, CACHE/models/<digest>/eval/<dataset>/
METRICS_NAME = "metrics.json"


def _evaluations_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / ANALYSIS_NAME).is_file() and (p / METRICS_NAME).is_file()}


def find_evaluations(model_folder: str | Path, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Evaluations of a model by data set name ("digits", "mnist-train" for a train split) -> the folder
    holding their analysis.safetensors + metrics.json: those in MODEL/eval/ and those in the cache under the
    model's weights digest (explorer.cache). Where both hold one, MODEL/eval/ wins. A model whose weights
    cannot be found simply has no cached evaluations."""
    model_folder = Path(model_folder)
    found: dict[str, Path] = {}
    try:
        digest = weights_digest(model_folder)
        found.update(_evaluations_in(model_cache_dir(digest, cache_dir) / EVAL_KIND))
    except (FileNotFoundError, OSError, ValueError):
        pass
    if model_folder.is_dir():
        found.update(_evaluations_in(model_folder / EVAL_DIR))
    return dict(sorted(found.items()))


def load_evaluation(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metrics dict, analysis arrays) of one evaluation folder from `find_evaluations`."""
    import json

    folder = Path(folder)
    return json.loads((folder / METRICS_NAME).read_text()), load_analysis(folder)


# The stored-encoding catalogue: what complete encodings (encode_dataset's folders) a model has in the cache.


@dataclass(frozen=True)
class StoredEncoding:
    """One complete encoding in the cache, described from its manifest alone (nothing loaded)."""

    folder: Path
    items: int
    latent_dims: int
    dataset: str  # the data set's name ("" when the manifest does not say)
    split: str  # "test" / "train" ("" when unknown)
    options: dict[str, Any]  # the data set's loader options
    classes: list[str] | None
    attribute_names: list[str] | None
    caption_vocabulary: list[str] | None = None

    @property
    def label(self) -> str:
        """e.g. 'mnist test split, 10,000 items'."""
        what = f"{self.dataset} {self.split} split" if self.dataset else self.folder.name
        return f"{what}, {self.items:,} items"

    def load_bytes(self) -> int:
        """Bytes `load_encoded` allocates: means and log-variances (float32), ELBO, KL, labels, attributes, caption words."""
        n, d = self.items, self.latent_dims
        return n * (2 * d * 4 + 4 + 4 + 8 + len(self.attribute_names or ()) + len(self.caption_vocabulary or ()))


def _describe(folder: Path) -> StoredEncoding | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not manifest.get("complete"):
        return None
    info = manifest.get("info") if isinstance(manifest.get("info"), dict) else {}
    dataset, split = str(info.get("dataset") or ""), str(info.get("split") or "")
    if not dataset:  # an older manifest: the folder is named <dataset>-<split>-<options digest>
        head, _, _ = folder.name.rpartition("-")
        dataset, _, split = head.rpartition("-")
    try:
        return StoredEncoding(folder, int(manifest["items"]), int(manifest["latent_dims"]), dataset, split,
                              dict(info.get("options") or {}), info.get("classes"), manifest.get("attribute_names"),
                              manifest.get("caption_vocabulary"))
    except (KeyError, TypeError, ValueError):
        return None


def stored_encodings(digest: str, cache_dir: str | Path | None = None) -> list[StoredEncoding]:
    """The complete encodings of a model (by weights digest) in the cache, largest first; unfinished or
    unreadable ones are left out."""
    root = model_cache_dir(digest, cache_dir) / ENCODE_KIND
    if not root.is_dir():
        return []
    found = [_describe(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    return sorted((e for e in found if e is not None), key=lambda e: (-e.items, e.folder.name))
