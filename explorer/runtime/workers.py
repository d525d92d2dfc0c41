"""Background jobs that run in a worker process: both ends of the worker protocol, and a table of jobs by key.

A job (a map, an encoding, a Factors report) runs as `python -m <package>.<name>_worker ARGS` in a daemon thread of
its host (the Streamlit app, or a notebook kernel: explorer.notebook.LatentMap), so the heavy work never holds the
host's GIL nor more than one core:

    job = table.jobs[key] = Job(key, "umap", n)                  # under table.lock, once per key
    start_worker(job, "explorer.analysis.map_worker", args, collect=read_result, name="map-...")
    job.progress(), job.stage, job.error, job.killed_by          # what the page polls
    job.cancel()                                                 # superseded: the worker is terminated

The worker lowers its own priority (`lower_priority`) and writes "progress FRACTION STAGE" lines (`report`) on
stdout, which the thread feeds to `Job.report`; its stderr goes to a log file whose last line becomes the job's
error when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# the folder above explorer/ and ui/: `python -m ui.services.X_worker` run there imports the checkout's own packages
ROOT = Path(__file__).resolve().parents[2]
PROGRESS_PREFIX = "progress"
# one numba / BLAS thread per worker: the app's interactive work keeps the other cores
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class JobCancelled(Exception):
    """A job's end when `Job.cancel` stopped it (its error reads "JobCancelled: superseded"). Not
    explorer.runtime.progress.Cancelled, which would bring torch into every worker process."""


def lower_priority() -> None:
    """nice 10, in the worker: the app's interactive work comes first."""
    try:
        os.nice(10)
    except OSError:
        pass


def report(fraction: float, stage: str) -> None:
    """One progress line on stdout, in the worker; the app's `Job.report` reads it."""
    print(f"{PROGRESS_PREFIX} {fraction:.4f} {stage}", flush=True)


@dataclass
class Job:
    """One background job: its progress as the worker last reported it, then its end (error, exit status)."""

    key: str
    method: str
    n: int
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None
    stage: str = "starting"
    fraction: float = 0.0  # as the worker last reported it
    coords: np.ndarray | None = None  # a map job's result, (N, 2) float32
    returncode: int | None = None  # the worker's exit status (negative: the signal that ended it)
    cancelled: bool = False  # set by `cancel`: the job's end is then its error "JobCancelled: ..."
    proc: subprocess.Popen | None = field(default=None, repr=False)  # the worker while it runs

    def cancel(self) -> None:
        """Stop the job (superseded by a newer request): its worker is terminated, or never started when it has not
        started yet; the job then ends with error "JobCancelled: superseded". A finished job is left as it is."""
        self.cancelled = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

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
        """Take one line of the worker's output: "progress FRACTION STAGE"; any other line is ignored."""
        word, _, rest = line.strip().partition(" ")
        fraction, _, stage = rest.partition(" ")
        if word != PROGRESS_PREFIX:
            return
        try:
            self.fraction = float(fraction)
        except ValueError:
            return
        self.stage = stage or self.stage


class JobTable:
    """The jobs of one service in this process, by key: one job per key whichever sessions ask for it. A request
    looks a key up and adds its job under `lock`; a failed job stays until `restart`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}

    def peek(self, key: str) -> Job | None:
        """The job of a key, running, done or failed; None when there is none."""
        with self.lock:
            return self.jobs.get(key)

    def restart(self, key: str) -> bool:
        """Forget a failed job, so that the next request of its key starts the worker again; False (and nothing
        forgotten) when the key has no failed job."""
        with self.lock:
            job = self.jobs.get(key)
            if job is None or not (job.done and job.error):
                return False
            del self.jobs[key]
            return True


def run_worker(job: Job, cmd: list[str], tmp: Path) -> None:
    """Run a worker (one numba / BLAS thread) to its end, feeding its progress lines to the job; RuntimeError with
    the last line of its stderr when it fails (job.returncode says how it ended)."""
    env = dict(os.environ, **WORKER_ENV)
    with open(tmp / "stderr.txt", "w+") as log:
        proc = job.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        if job.cancelled:  # cancelled between the check in _run and the start
            proc.terminate()
        for line in proc.stdout:  # the worker reports its progress, one line at a time
            job.report(line)
        code = job.returncode = proc.wait()
        job.proc = None
        log.seek(0)
        err = log.read()
    if job.cancelled:
        raise JobCancelled("superseded")
    if code != 0:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"worker exited with {code}")


def _run(job: Job, module: str, args: list[str] | Callable[[Path], list[str]],
         collect: Callable[[], None] | None) -> None:
    try:
        if job.cancelled:
            raise JobCancelled("superseded")
        with tempfile.TemporaryDirectory(prefix=f"vae-{module.rpartition('.')[2]}-") as tmp:
            argv = args(Path(tmp)) if callable(args) else args
            run_worker(job, [sys.executable, "-m", module, *argv], Path(tmp))
        if collect is not None:
            collect()
    except Exception as exc:  # noqa: BLE001  (reported on the page; the app keeps working)
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.finished = time.monotonic()


def start_worker(job: Job, module: str, args: list[str] | Callable[[Path], list[str]], *,
                 collect: Callable[[], None] | None = None, name: str) -> threading.Thread:
    """Run `python -m module ARGS` for the job in a daemon thread (named `name`) and return the thread. `args` is
    the argument list, or a function of a temporary folder (kept until the worker ends) that writes the worker's
    inputs there and returns it. `collect` runs after a clean exit, to read the result back (raising when there is
    none). Any failure lands in `job.error`; `job.finished` is set last, whatever happened."""
    thread = threading.Thread(target=_run, args=(job, module, args, collect), daemon=True, name=name)
    thread.start()
    return thread


__all__ = ["Job", "JobCancelled", "JobTable", "PROGRESS_PREFIX", "ROOT", "lower_priority", "report", "run_worker",
           "start_worker"]
