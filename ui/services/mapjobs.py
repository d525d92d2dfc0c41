"""UMAP / t-SNE maps computed in the background and cached on disk as arrays (safetensors, never pickle).

A map is computed at most once per process for a given key, whichever sessions ask for it: a daemon thread
starts `python -m ui.services.map_worker` (niced, one numba / BLAS thread: ui.services.workers) and waits for
it, so the heavy work never holds the app's GIL nor more than one core. Results land in the cache directory,
keyed by checkpoint, data set, method, parameters and the digest of the encoded means themselves, in the shared
model cache (explorer.cache: CACHE/models/<weights digest>/maps/). Whole splits are encoded the same way
(`request_encoding`, `python -m ui.services.encode_worker`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from explorer.cache import DIGEST_CHARS, entry_path, read_entry
from ui.services.workers import Job, JobTable, start_worker

MAPS_KIND = "maps"
METHOD_PARAMS = {"umap": {"n_neighbors": 15, "min_dist": 0.1}, "tsne": {"perplexity": 30.0}}


def _model_digest(checkpoint: str) -> str:
    """The weights digest a map is filed under: the checkpoint's own digest when given one (as the app does),
    else a digest of whatever names the checkpoint."""
    if re.fullmatch(r"[0-9a-f]{16,64}", checkpoint):
        return checkpoint
    return hashlib.sha256(checkpoint.encode()).hexdigest()


def map_key(checkpoint: str, dataset: str, method: str, params: dict, seed: int, means: np.ndarray) -> str:
    """Cache key of a map, "DIGEST/NAME": the model's weights digest (`checkpoint`), then a readable name
    (method, data set) with a digest of what the map was computed from, the encoded means included."""
    digest = hashlib.sha256(np.ascontiguousarray(means, dtype=np.float32).tobytes()).hexdigest()[:16]
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


JOBS = JobTable()  # maps and encodings, by key
peek = JOBS.peek
restart = JOBS.restart


def request_map(cache_dir: Path, key: str, method: str, means: np.ndarray, params: dict, seed: int = 0,
                retry_failed: bool = True) -> Job:
    """The job for this key: finished at once from the disk cache, already running, or started now.
    A failed job is started again unless retry_failed is False (the page then shows the failure and offers
    a restart button, `restart`)."""
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

    start_worker(job, "ui.services.map_worker", inputs, collect=collect, name=f"map-{key.partition('/')[2][:20]}")
    return job


def encoding_key(model_folder: str | Path, dataset: str, split: str, options_json: str) -> str:
    return f"encode:{model_folder}:{dataset}:{split}:{options_json}"


def request_encoding(model_folder: str | Path, dataset: str, split: str, options_json: str, n: int, cache_dir: Path,
                     trusted: tuple[Path, ...] = ()) -> Job:
    """The job that encodes a whole split into the cache (`python -m ui.services.encode_worker`, the same entry as
    `vae-evaluate ... --encode-only`): already running or done in this process, or started now. A failed one
    stays failed until `restart`."""
    key = encoding_key(model_folder, dataset, split, options_json)
    with JOBS.lock:
        job = JOBS.jobs.get(key)
        if job is not None:
            return job
        job = JOBS.jobs[key] = Job(key, "encode", int(n))
    args = [str(model_folder), dataset, split, str(cache_dir), options_json, *[str(t) for t in trusted]]
    start_worker(job, "ui.services.encode_worker", args, name=f"encode-{dataset}-{split}")
    return job
