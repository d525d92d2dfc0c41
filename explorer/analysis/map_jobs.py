"""UMAP / t-SNE maps computed in the background and cached on disk as arrays (safetensors, never pickle), for every
host: the Streamlit app (ui/pages/map/) and the notebook's LatentMap (explorer.notebook.map).

A map is computed at most once per process for a given key, whichever sessions or widgets ask for it: a daemon
thread starts `python -m explorer.analysis.map_worker` (niced, one numba / BLAS thread: explorer.runtime.workers)
and waits for it, so the heavy work never holds the host's GIL nor more than one core. Results land in the cache
directory, keyed by checkpoint, data set, method, parameters and the digest of the encoded means themselves, in the
shared model cache (explorer.cache: CACHE/models/<weights digest>/maps/).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from explorer.cache import DIGEST_CHARS, array_digest, entry_path, read_entry
from explorer.runtime.workers import Job, JobTable, start_worker

MAPS_KIND = "maps"
METHOD_PARAMS = {"umap": {"n_neighbors": 15, "min_dist": 0.1}, "tsne": {"perplexity": 30.0}}
WORKER = "explorer.analysis.map_worker"


def _model_digest(checkpoint: str) -> str:
    """The weights digest a map is filed under: the checkpoint's own digest when given one (as the app does),
    else a digest of whatever names the checkpoint."""
    if re.fullmatch(r"[0-9a-f]{16,64}", checkpoint):
        return checkpoint
    return hashlib.sha256(checkpoint.encode()).hexdigest()


def map_key(checkpoint: str, dataset: str, method: str, params: dict, seed: int, means: np.ndarray) -> str:
    """Cache key of a map, "DIGEST/NAME": the model's weights digest (`checkpoint`), then a readable name
    (method, data set) with a digest of what the map was computed from, the encoded means included."""
    digest = array_digest(means)
    spec = json.dumps({"checkpoint": checkpoint, "dataset": dataset, "method": method, "params": params,
                       "seed": seed, "means": digest, "n": int(len(means))}, sort_keys=True)
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", dataset)
    name = f"{method}-{readable}-{hashlib.sha256(spec.encode()).hexdigest()[:24]}"
    return f"{_model_digest(checkpoint)[:DIGEST_CHARS]}/{name}"


def cache_path(cache_dir: Path, key: str) -> Path:
    """The key's file in the shared model cache (explorer.cache): CACHE/models/DIGEST/maps/NAME.safetensors."""
    digest, _, name = key.partition("/")
    return entry_path(digest, MAPS_KIND, f"{name}.safetensors", cache_dir)


def load_cached(cache_dir: Path, key: str) -> np.ndarray | None:
    """The cached coordinates (N, 2) of a key, or None when there are none (or only a torn or foreign file)."""
    found = read_entry(cache_path(cache_dir, key))
    return None if found is None else found[0].get("coords")


JOBS = JobTable()  # this process's background jobs by key: maps here, and the app's encodings (ui.services.mapjobs)


def request_map(cache_dir: Path, key: str, method: str, means: np.ndarray, params: dict, seed: int = 0,
                retry_failed: bool = True) -> Job:
    """The job for this key: finished at once from the disk cache, already running, or started now.
    A failed (or cancelled) job is started again unless retry_failed is False (the app's page then shows the
    failure and offers a restart button: JOBS.restart)."""
    with JOBS.lock:
        job = JOBS.jobs.get(key)
        if job is not None and not (job.done and job.error and retry_failed):
            return job
        job = Job(key, method, int(len(means)))
        cached = load_cached(cache_dir, key)
        if cached is not None:
            job.coords, job.stage, job.finished = cached, "loaded from cache", job.started
            JOBS.jobs[key] = job
            return job
        JOBS.jobs[key] = job
    means, params, cache_dir = np.array(means), dict(params), Path(cache_dir)  # the caller's may change meanwhile
    out = cache_path(cache_dir, key)

    def inputs(tmp: Path) -> list[str]:
        """The means written where the worker reads them (N, D float32), and its arguments."""
        out.parent.mkdir(parents=True, exist_ok=True)
        src = tmp / "means.npy"
        np.save(src, np.ascontiguousarray(means, dtype=np.float32), allow_pickle=False)
        return [str(src), str(out), method, json.dumps(params), str(seed)]

    def collect() -> None:
        job.coords = load_cached(cache_dir, key)
        if job.coords is None:
            raise RuntimeError("the worker finished but wrote no coordinates")

    start_worker(job, WORKER, inputs, collect=collect, name=f"map-{key.partition('/')[2][:20]}")
    return job


__all__ = ["JOBS", "MAPS_KIND", "METHOD_PARAMS", "cache_path", "load_cached", "map_key", "request_map"]
