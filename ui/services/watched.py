"""Watched model calls for pages: progress per block, cancel and supersede, at most one call per browser session.

    job = start(session_key(), request_key, work)      # work(on_progress, token) runs on the inference thread
    result = wait(job, show=lambda p: bar.progress(p.fraction, format_progress(p)))

`start` cancels the session's previous call (its CancelToken: it stops at its next block boundary,
explorer.runtime.progress), so a session has at most one call running or waiting; across sessions the one
inference thread (ui.services.inference) takes them first in, first out. `wait` polls the call every
`POLL_S` and hands its latest Progress to `show`; when the script is stopped while waiting (a newer rerun,
a page switch, a Cancel button), the call is cancelled on the way out. `inference.score_watched` is the
Reconstruct page's call: one image's scores with the IWAE samples sized to a time and memory budget.
"""

from __future__ import annotations

import threading
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


@dataclass
class Job:
    """One session's watched call: its request key, token, future and the latest progress it reported."""

    key: Hashable
    token: CancelToken = field(default_factory=lambda: torch_side().progress.CancelToken())
    future: Future | None = None
    progress: Progress | None = None
    stage: str = ""

    def report(self, progress: Progress) -> None:
        self.progress = progress


_SESSIONS: dict[str, Job] = {}
_LOCK = threading.Lock()


def start(session: str, key: Hashable, work: Callable[[ProgressCallback, CancelToken, Job], Any]) -> Job:
    """Queue work(on_progress, token, job) on the inference thread for this session, cancelling the session's
    previous call (a newer request supersedes it). Returns the Job to `wait` on."""
    job = Job(key)
    with _LOCK:
        old = _SESSIONS.get(session)
        if old is not None:
            old.token.cancel("a newer request in this session")
        _SESSIONS[session] = job

        def run() -> Any:
            job.token.raise_if_cancelled()  # superseded while waiting in the queue: never starts
            return work(job.report, job.token, job)

        job.future = inference.submit(run)
    return job


def current(session: str) -> Job | None:
    """The session's latest call (running, waiting or finished), or None."""
    return _SESSIONS.get(session)


def cancel(session: str, reason: str = "cancelled") -> None:
    """Cancel the session's call, if any; it stops at its next block boundary."""
    job = _SESSIONS.get(session)
    if job is not None:
        job.token.cancel(reason)


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
            job.token.cancel("the page moved on")


# -- Reconstruct: refuse up front (the scores themselves: inference.score_watched) ----------------
def refuse_if_too_big(model: VAE, image_hw: tuple[int, int], budget: Budget) -> None:
    """MemoryRefused (naming the size) when one decode at image_hw does not fit budget; else nothing.
    The estimate may probe the model once, so it runs on the inference thread."""
    memory = torch_side().memory
    inference.run(lambda: memory.check_fits(memory.estimate_peak(model, "decode", 1, image_hw),
                                            budget.memory(str(model.device))))
