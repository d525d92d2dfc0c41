"""Stored encodings for the map's big path (the layout explorer.analysis.encode_dataset writes and reads).

`real_encoding` runs the real `encode_splits` of a model over its data set's test split. `spread_encoding`
writes a large encoding in the same layout straight from arrays, fast: N codes made from the real codes of the
test items (item i is test item i % 500's code plus a little noise, with its label), so a 200,000-point map
takes seconds to build instead of minutes of encoding. Its manifest names no data set that loads, so the page
has no originals for it (it says so, and shows the server's decode instead).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.analysis.encode_dataset import ENCODE_KIND, FORMAT, MANIFEST, encode_splits, load_encoded
from explorer.cache import entry_path, weights_digest, write_entry
from explorer.files import atomic_write_json

SHARD = 65_536


def real_encoding(model_folder: Path, cache_dir: Path) -> Path:
    """encode_splits of the model over mnist5k's test split (500 items) into the cache; returns the folder."""
    from tests.support.checkpoints import load
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(model_folder)
    out = encode_splits(model, load("mnist5k"), ["test"], weights_digest(model_folder), cache_dir=cache_dir,
                        show_progress=False, batch_size=250)
    return out["test"].folder


def write_encoding(folder: Path, means: np.ndarray, labels: np.ndarray, elbo: np.ndarray, kl: np.ndarray,
                   info: dict, attributes: np.ndarray | None = None, attribute_names: list[str] | None = None) -> Path:
    """Shards + manifest exactly as encode_dataset leaves a complete run."""
    n, d = means.shape
    shards = []
    for s, start in enumerate(range(0, n, SHARD)):
        stop = min(n, start + SHARD)
        arrays = {"means": means[start:stop], "logvars": np.zeros_like(means[start:stop]), "elbo": elbo[start:stop],
                  "kl": kl[start:stop], "labels": labels[start:stop].astype(np.int64)}
        if attributes is not None:
            arrays["attributes"] = attributes[start:stop].astype(np.uint8)
        name = f"shard-{s:05d}.safetensors"
        write_entry(folder / name, arrays, {"start": start, "stop": stop})
        shards.append(name)
    atomic_write_json(folder / MANIFEST, {"format": FORMAT, "items": n, "shard_size": SHARD, "batch_size": 256,
                                          "seed": 0, "latent_dims": d, "shards": shards, "complete": True,
                                          "attribute_names": attribute_names, "info": info})
    load_encoded(folder)  # readable as the page reads it
    return folder


def spread_encoding(model_folder: Path, cache_dir: Path, n: int, real: Path, attributes: bool = False) -> Path:
    """n items built from the real encoding `real` (see the module docstring), as "spread<n>" in the cache."""
    base = load_encoded(real)
    rng = np.random.default_rng(0)
    src = np.arange(n) % len(base)
    means = (base.means[src] + rng.normal(scale=0.05, size=(n, base.means.shape[1]))).astype(np.float32)
    extra = {}
    if attributes:  # two made-up attributes: "upper" (first PCA-ish half of the code space), "even" (even label)
        table = np.stack([means[:, 0] > np.median(means[:, 0]), base.labels[src] % 2 == 0], 1)
        extra = {"attributes": table.astype(np.uint8), "attribute_names": ["upper", "even"]}
    folder = entry_path(weights_digest(model_folder), ENCODE_KIND, f"spread{n}-test-0000000000000000", cache_dir)
    info = {"dataset": f"spread{n}", "split": "test", "options": {}, "classes": [str(k) for k in range(10)]}
    return write_encoding(folder, means, base.labels[src], base.elbo[src], base.kl[src], info, **extra)
