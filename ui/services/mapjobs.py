"""The app's background encodings of whole splits, and its door to the background maps.

Maps (UMAP / t-SNE in a worker process, cached on disk) are explorer.analysis.map_jobs', shared with the notebook's
LatentMap; the app's pages call it directly. A whole split is encoded the same way (`request_encoding`,
`python -m ui.services.encode_worker`), in the same table of jobs, so that `peek` and `restart` serve both.
"""

from __future__ import annotations

from pathlib import Path

from explorer.analysis.map_jobs import JOBS
from explorer.runtime.workers import Job, start_worker

peek = JOBS.peek
restart = JOBS.restart


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
