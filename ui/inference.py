"""One long-lived thread for the app's model calls.

Streamlit runs every rerun (and every fragment rerun) in a fresh thread, and PyTorch pays a per-thread set-up
cost on the first operator call in each new thread (measured: 1-10 ms for a batch-of-one decode, against 0.5 ms
in a warm thread). Running model calls on one persistent thread keeps that cost paid once, and serialises
inference between sessions, so a small CPU is never oversubscribed by concurrent decodes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_EXECUTOR: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-inference")
        return _EXECUTOR


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the inference thread; exceptions are re-raised in the caller."""
    if threading.current_thread().name.startswith("vae-inference"):
        return fn(*args, **kwargs)  # already there (nested call)
    return _executor().submit(fn, *args, **kwargs).result()
