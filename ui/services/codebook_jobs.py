"""A discrete model's code indices over a data set, encoded in the background and cached on disk.

The codebook panel counts usage over every item it is given, not over one batch; encoding them can take a while
for a big model or data set, so it runs on the inference thread (the one thread that calls models) as a job that
reports how many items are done, while the page polls it in a fragment and stays usable. Results are written as a
safetensors entry in the shared model cache (explorer.cache: CACHE/models/<weights digest>/codebook/NAME), keyed by
the weights digest, the data set and the number of items, so a restart or another session reads them back.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from explorer.analysis.codebook import encode_indices_all
from explorer.cache import DIGEST_CHARS, array_digest, entry_path, read_entry, write_entry
from ui.services import inference

if TYPE_CHECKING:
    from concurrent.futures import Future

    from explorer.models.base import VAE

KIND = "codebook"
BATCH = 64  # images per model call: progress moves in steps this size


def usage_key(digest: str, dataset: str, n: int, images: np.ndarray) -> str:
    """Cache key "DIGEST/NAME" of the indices of `n` items of `dataset` under the weights `digest` (the images'
    own digest is part of the name, so a data set rendered differently is counted again)."""
    data = array_digest(images[:n])
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", dataset)
    return f"{digest[:DIGEST_CHARS]}/indices-{readable}-{n}-{data}"


def cache_path(cache_dir: str | Path, key: str) -> Path:
    digest, _, name = key.partition("/")
    return entry_path(digest, KIND, f"{name}.safetensors", cache_dir)


def load_cached(cache_dir: str | Path, key: str) -> list[np.ndarray] | None:
    """The cached indices per level [(N, h, w) int], or None when there are none (or only a torn file)."""
    found = read_entry(cache_path(cache_dir, key))
    if found is None:
        return None
    arrays = found[0]
    levels = sorted(arrays, key=lambda name: int(name.removeprefix("level")))
    return [arrays[name] for name in levels]


@dataclass
class UsageJob:
    """One background encoding: how many of its n items are done, its result or its error."""

    key: str
    n: int
    items_done: int = 0
    started: float = field(default_factory=time.monotonic)
    future: Future | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    @property
    def fraction(self) -> float:
        return min(1.0, self.items_done / max(self.n, 1))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


_JOBS: dict[str, UsageJob] = {}
_LOCK = threading.Lock()


def peek(key: str) -> UsageJob | None:
    return _JOBS.get(key)


def request_indices(cache_dir: str | Path, key: str, model: VAE, images: np.ndarray) -> UsageJob:
    """Start (at most once per key and process) the encoding of images (N, C, H, W) in [0, 1] to indices per
    level, written to the cache when done; returns the job to poll. A failed job stays failed until `forget`."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None:
            return job
        job = _JOBS[key] = UsageJob(key, len(images))

        def work() -> list[np.ndarray]:
            def on_batch(count: int) -> None:
                job.items_done += count

            try:
                indices = encode_indices_all(model, torch.from_numpy(np.asarray(images, dtype=np.float32)),
                                             BATCH, on_batch)
            except Exception as exc:  # the page shows why, and offers a restart
                job.error = f"{type(exc).__name__}: {exc}"
                raise
            write_entry(cache_path(cache_dir, key), {f"level{i}": a for i, a in enumerate(indices)},
                        {"items": len(images)})
            return indices

        job.future = inference.submit(work)
    return job


def forget(key: str) -> None:
    """Drop a finished (failed) job so that the next request starts it again."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and job.done:
            del _JOBS[key]


__all__ = ["UsageJob", "cache_path", "forget", "load_cached", "peek", "request_indices", "usage_key"]
