"""Load the heavy modules of a fresh server in the background, after its first page has been painted.

A new Streamlit process runs app.py only when the first browser connects, and importing torch, the model
families and plotly takes seconds on a small machine. The first run therefore reads only JSON files (model
picker, Reconstruct page) and starts this thread; by the time a page needs a model, the imports are done or
under way. When they finish, the heap is collected and frozen (ui/app/perf.py) and torch gets its thread count.
"""

from __future__ import annotations

import threading

from ui.app.perf import settle
from ui.services import inference
from ui.services.lazy import torch_side

_STARTED = threading.Event()
DONE = threading.Event()


def _work(threads: int) -> None:
    try:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        import plotly.graph_objects  # noqa: F401

        torch_side()  # explorer's torch side: evaluation, checkpoints, latents, the model families

        inference.run(lambda: torch.zeros(1).add_(1))  # the inference thread exists and has run an operator
    finally:
        settle("imports")
        DONE.set()


def start(threads: int) -> None:
    """Start the warm-up once per process (later calls do nothing)."""
    if _STARTED.is_set():
        return
    _STARTED.set()
    threading.Thread(target=_work, args=(threads,), daemon=True, name="vae-warmup").start()


def ensure_threads(threads: int) -> None:
    """torch's intra-op thread count for this process, once torch is imported (cheap when already set)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and DONE.is_set() and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
