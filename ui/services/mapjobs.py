"""UMAP / t-SNE maps computed in the background and cached on disk as arrays (safetensors, never pickle).

A map is computed at most once per process for a given key, whichever sessions ask for it: a daemon thread
starts `python -m ui.services.map_worker` (niced, one numba / BLAS thread) and waits for it, so the heavy work never
holds the app's GIL nor more than one core. Results land in the cache directory, keyed by checkpoint, data
set, method, parameters and the digest of the encoded means themselves, in the shared model cache
(explorer.cache: CACHE/models/<weights digest>/maps/).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.cache import DIGEST_CHARS, entry_path, read_entry
from ui.services.map_worker import PROGRESS_PREFIX

ROOT = Path(__file__).resolve().parents[2]  # above ui/: `python -m ui.services.map_worker` there imports the app's own ui
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


@dataclass
class Job:
    key: str
    method: str
    n: int
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None
    stage: str = "starting"
    fraction: float = 0.0  # as the worker last reported it
    coords: np.ndarray | None = None
    returncode: int | None = None  # the worker's exit status (negative: the signal that ended it)

    @property
    def killed_by(self) -> int | None:
        """The signal number that ended the worker (e.g. 9 for SIGKILL), or None when it exited by itself."""
        return -self.returncode if self.returncode is not None and self.returncode < 0 else None

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def progress(self) -> float:
        """The share of the work done, as the worker reports it (UMAP: neighbour graph, then layout epochs;
        t-SNE: iterations of both phases)."""
        return 1.0 if self.done else min(max(self.fraction, 0.0), 0.99)

    def report(self, line: str) -> None:
        """Take one line of the worker's output: "progress FRACTION STAGE"."""
        word, _, rest = line.strip().partition(" ")
        fraction, _, stage = rest.partition(" ")
        if word != PROGRESS_PREFIX:
            return
        try:
            self.fraction = float(fraction)
        except ValueError:
            return
        self.stage = stage or self.stage


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def run_worker(job: Job, cmd: list[str], tmp: Path) -> None:
    """Run a worker (one numba / BLAS thread) to its end, feeding its progress lines to the job; RuntimeError with
    the last line of its stderr when it fails (job.returncode says how it ended)."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(tmp / "stderr.txt", "w+") as log:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        for line in proc.stdout:  # the worker reports its progress, one line at a time
            job.report(line)
        code = job.returncode = proc.wait()
        log.seek(0)
        err = log.read()
    if code != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"worker exited with {code}")


def _run(job: Job, means: np.ndarray, params: dict, seed: int, cache_dir: Path) -> None:
    out = cache_path(cache_dir, job.key)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="vae-map-") as tmp:
            src = Path(tmp) / "means.npy"
            np.save(src, np.ascontiguousarray(means, dtype=np.float32), allow_pickle=False)
            cmd = [sys.executable, "-m", "ui.services.map_worker", str(src), str(out), job.method, json.dumps(params), str(seed)]
            run_worker(job, cmd, Path(tmp))
        job.coords = load_cached(cache_dir, job.key)
        if job.coords is None:
            raise RuntimeError("the worker finished but wrote no coordinates")
    except Exception as exc:  # noqa: BLE001  (reported on the page; the app keeps working)
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.monotonic()


def request_map(cache_dir: Path, key: str, method: str, means: np.ndarray, params: dict, seed: int = 0,
                retry_failed: bool = True) -> Job:
    """The job for this key: finished at once from the disk cache, already running, or started now.
    A failed job is started again unless retry_failed is False (the page then shows the failure and offers
    a restart button, `restart`)."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and not (job.done and job.error and retry_failed):
            return job
        job = Job(key, method, int(len(means)))
        cached = load_cached(cache_dir, key)
        if cached is not None:
            job.coords, job.stage, job.finished = cached, "loaded from cache", job.started
            _JOBS[key] = job
            return job
        _JOBS[key] = job
    threading.Thread(target=_run, args=(job, np.array(means), dict(params), seed, Path(cache_dir)), daemon=True,
                     name=f"map-{key.partition('/')[2][:20]}").start()
    return job


def _run_encoding(job: Job, args: list[str]) -> None:
    try:
        with tempfile.TemporaryDirectory(prefix="vae-encode-") as tmp:
            run_worker(job, [sys.executable, "-m", "ui.services.encode_worker", *args], Path(tmp))
    except Exception as exc:  # noqa: BLE001  (reported on the page; the app keeps working)
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.monotonic()


def encoding_key(model_folder: str | Path, dataset: str, split: str, options_json: str) -> str:
    return f"encode:{model_folder}:{dataset}:{split}:{options_json}"


def request_encoding(model_folder: str | Path, dataset: str, split: str, options_json: str, n: int, cache_dir: Path,
                     trusted: tuple[Path, ...] = ()) -> Job:
    """The job that encodes a whole split into the cache (`python -m ui.services.encode_worker`, the same entry as
    `vae-evaluate ... --encode-only`): already running or done in this process, or started now. A failed one
    stays failed until `restart`."""
    key = encoding_key(model_folder, dataset, split, options_json)
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None:
            return job
        job = _JOBS[key] = Job(key, "encode", int(n))
    args = [str(model_folder), dataset, split, str(cache_dir), options_json, *[str(t) for t in trusted]]
    threading.Thread(target=_run_encoding, args=(job, args), daemon=True, name=f"encode-{dataset}-{split}").start()
    return job


def restart(key: str) -> bool:
    """Forget a failed job, so that the next `request_map` of its key starts the worker again; False (and
    nothing forgotten) when the key has no failed job."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or not (job.done and job.error):
            return False
        del _JOBS[key]
        return True


def peek(key: str) -> Job | None:
    with _LOCK:
        return _JOBS.get(key)
