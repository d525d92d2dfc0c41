"""Watched model calls for pages: progress per block, cancel and supersede, at most one call per browser session.

    job = start(session_key(), request_key, work)      # work(on_progress, token) runs on the inference thread
    result = wait(job, show=lambda p: bar.progress(p.fraction, format_progress(p)))

`start` cancels the session's previous call (its CancelToken: it stops at its next block boundary,
explorer.runtime.progress), so a session has at most one call running or waiting; across sessions the one
inference thread (ui.services.inference) takes them first in, first out. `wait` polls the call every
`POLL_S` and hands its latest Progress to `show`; when the script is stopped while waiting (a newer rerun,
a page switch, a Cancel button), the call is cancelled on the way out. `inference.score_watched` is the
Reconstruct page's call: one image's scores with the IWAE samples sized to a time and memory budget.

Trace (off by default): when the environment variable VAE_EXPLORER_TRACE names a file, every call appends one JSON
line per event to it: {"t": time.monotonic(), "event": "queued" | "started" | "cancel" | "finished", "session",
"job" (a number per call), "key" (the request key's repr)}; "cancel" adds the reason, "finished" the outcome
("done", "cancelled", "error"), the blocks the call ran and the blocks that ended after its cancel (at most the one
that was running when a newer request superseded it). bench/bench_sessions.py reads it for the calls per session
at every moment and the blocks superseded calls ran.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ui.services import inference
from ui.services.lazy import torch_side

if TYPE_CHECKING:  # explorer.runtime imports torch, which the first paint must not wait for
    from explorer.models.base import VAE
    from explorer.runtime.budget import Budget
    from explorer.runtime.progress import CancelToken, Progress, ProgressCallback

POLL_S = 0.2  # how often a waiting page redraws its bar (and notices that it was stopped)
TRACE_ENV = "VAE_EXPLORER_TRACE"  # names the file the trace is appended to; unset: no trace
_TRACE_LOCK = threading.Lock()
_IDS = itertools.count(1)


def _trace(event: str, job: Job, **extra: Any) -> None:
    """Append one JSON line for this event to the trace file, when VAE_EXPLORER_TRACE names one (else nothing)."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    line = json.dumps({"t": time.monotonic(), "event": event, "session": job.session, "job": job.id,
                       "key": repr(job.key), **extra})
    with _TRACE_LOCK, open(path, "a", encoding="utf-8") as f:  # one whole line per write, in event order
        f.write(line + "\n")


@dataclass
class Job:
    """One session's watched call: its request key, token, future and the latest progress it reported."""

    key: Hashable
    session: str = ""
    token: CancelToken = field(default_factory=lambda: torch_side().progress.CancelToken())
    future: Future | None = None
    progress: Progress | None = None
    stage: str = ""
    id: int = field(default_factory=lambda: next(_IDS))
    blocks: int = 0  # blocks that ended (every stage's), as reported by explorer.runtime.progress's hooks
    blocks_after_cancel: int = 0  # of those, the ones that ended after the token was cancelled

    def report(self, progress: Progress) -> None:
        self.progress = progress
        if progress.block:  # a block ended ("" marks a call's start and end)
            self.blocks += 1
            if self.token.cancelled:
                self.blocks_after_cancel += 1


def _cancel(job: Job, reason: str) -> None:
    """Cancel job's token (it stops at its next block boundary); traced once, while the call is unfinished."""
    if not job.token.cancelled and job.future is not None and not job.future.done():
        _trace("cancel", job, reason=reason)
    job.token.cancel(reason)


_SESSIONS: dict[str, Job] = {}
_LOCK = threading.Lock()


def start(session: str, key: Hashable, work: Callable[[ProgressCallback, CancelToken, Job], Any]) -> Job:
    """Queue work(on_progress, token, job) on the inference thread for this session, cancelling the session's
    previous call (a newer request supersedes it). Returns the Job to `wait` on."""
    job = Job(key, session=session)
    with _LOCK:
        old = _SESSIONS.get(session)
        if old is not None:
            _cancel(old, "a newer request in this session")
        _SESSIONS[session] = job

        def run() -> Any:
            _trace("started", job)
            outcome = "error"
            try:
                job.token.raise_if_cancelled()  # superseded while waiting in the queue: never starts
                result = work(job.report, job.token, job)
                outcome = "done"
                return result
            except torch_side().progress.Cancelled:
                outcome = "cancelled"
                raise
            finally:
                _trace("finished", job, outcome=outcome, blocks=job.blocks,
                       blocks_after_cancel=job.blocks_after_cancel)

        _trace("queued", job)
        job.future = inference.submit(run)
    return job


def current(session: str) -> Job | None:
    """The session's latest call (running, waiting or finished), or None."""
    return _SESSIONS.get(session)


def cancel(session: str, reason: str = "cancelled") -> None:
    """Cancel the session's call, if any; it stops at its next block boundary."""
    job = _SESSIONS.get(session)
    if job is not None:
        _cancel(job, reason)


def wait(job: Job, show: Callable[[Job], None], poll_s: float = POLL_S) -> Any:
    """The call's result (or its exception, Cancelled included), calling show(job) every poll_s while it runs.
    When the waiting script is stopped (Streamlit raises in show on a rerun or page switch), the call is
    cancelled before the stop goes on."""
    assert job.future is not None
    finished = False
    try:
        while True:
            try:
                result = job.future.result(timeout=poll_s)
                finished = True
                return result
            except FutureTimeout:
                show(job)
    finally:
        if not finished and not job.future.done():
            _cancel(job, "the page moved on")


# -- Reconstruct: refuse up front (the scores themselves: inference.score_watched) ----------------
def refuse_if_too_big(model: VAE, image_hw: tuple[int, int], budget: Budget) -> None:
    """MemoryRefused (naming the size) when one decode at image_hw does not fit budget; else nothing.
    The estimate may probe the model once, so it runs on the inference thread."""
    memory = torch_side().memory
    inference.run(lambda: memory.check_fits(memory.estimate_peak(model, "decode", 1, image_hw),
                                            budget.memory(str(model.device))))
