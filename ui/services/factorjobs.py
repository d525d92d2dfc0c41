"""A model's disentanglement metrics for the Factors page, computed in the background and cached on disk as JSON.

One job per (weights digest, data set, options) per process, whichever sessions ask: a daemon thread runs
`python -m ui.services.factor_worker` (niced, one BLAS thread: explorer.runtime.workers) and the page
polls its progress. The result lands in the shared model cache (explorer.cache:
CACHE/models/<digest>/factors/<dataset>-<options digest>-quick.json), so a later session reads it at once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from explorer.cache import entry_path
from explorer.runtime.workers import Job, JobTable, start_worker
from ui.services.factor_worker import PAGE_PRESET

FACTORS_KIND = "factors"
JOBS = JobTable()
peek = JOBS.peek
restart = JOBS.restart
_RESULTS: dict[str, dict[str, Any]] = {}


def result_path(cache_dir: Path, digest: str, dataset: str, options_json: str) -> Path:
    """The cached report of a model (weights digest) on a data set with these loader options."""
    tag = hashlib.sha256(options_json.encode()).hexdigest()[:12]
    return entry_path(digest, FACTORS_KIND, f"{dataset}-{tag}-{PAGE_PRESET}.json", cache_dir)


def load_result(path: Path) -> dict[str, Any] | None:
    """The report dict (explorer.analysis.disentanglement.measure.FactorReport.to_dict) or None."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def request_factors(model_folder: str | Path, digest: str, dataset: str, options_json: str, cache_dir: Path,
                    trusted: tuple[Path, ...] = ()) -> tuple[Job, dict[str, Any] | None]:
    """(job, report): the report at once when cached, else the running job (started now if none is); a failed
    job stays failed until `restart`."""
    out = result_path(Path(cache_dir), digest, dataset, options_json)
    key = str(out)
    with JOBS.lock:
        job = JOBS.jobs.get(key)
        if job is not None and not job.done:
            return job, None
        found = _RESULTS.get(key) or load_result(out)
        if found is not None:
            _RESULTS[key] = found
            done = job or Job(key, "factors", 0)
            done.finished = done.finished or done.started
            return done, found
        if job is not None:  # done with an error
            return job, None
        job = JOBS.jobs[key] = Job(key, "factors", 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [str(model_folder), dataset, options_json, str(out), str(cache_dir), *[str(t) for t in trusted]]

    def collect() -> None:
        if load_result(out) is None:
            raise RuntimeError("the worker finished but wrote no report")

    start_worker(job, "ui.services.factor_worker", args, collect=collect, name=f"factors-{dataset}")
    return job, None


__all__ = ["FACTORS_KIND", "load_result", "peek", "request_factors", "restart", "result_path"]
