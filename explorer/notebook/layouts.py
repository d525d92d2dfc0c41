"""A map layout (UMAP, t-SNE) of a notebook widget's codes, computed in the background: the app's own map jobs
(explorer.analysis.map_jobs: a niced worker process, its result cached on disk by the codes' digest) watched from a
daemon thread of the kernel, so that neither the kernel nor the page waits for it. The latest request wins: a newer
one cancels the job it supersedes (its worker is terminated) and that job's coordinates are never shown.

The widget hears of it through two callbacks, both called from the watching thread: `on_status(status)` while the
job runs and when it ends (`LayoutStatus.as_header`: what the page shows under the map), and `on_coords(coords,
method)` once, with the (N, 2) float32 coordinates, when the latest request's job finished well.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.analysis.map_jobs import METHOD_PARAMS, map_key, request_map
from explorer.analysis.maps import MAP_METHODS
from explorer.runtime.workers import Job

LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
BACKGROUND = ("umap", "tsne")  # the methods that run as jobs; PCA is computed at once, in the kernel
WATCH_S = 0.25  # how often the watching thread reads the job's progress (the worker reports a few times a second)
ELAPSED_S = 1.0  # how often the page hears of the elapsed time alone
DATASET = "notebook"  # the data set name in a notebook map's cache key (the codes' digest tells maps apart)


@dataclass
class LayoutRequest:
    """One request of a layout: what was asked, its job, and `finished`, set once its watching thread is done with it
    (its coordinates handed over, or it failed or was superseded)."""

    method: str
    params: dict[str, Any]
    seed: int
    key: str
    job: Job
    finished: threading.Event = field(default_factory=threading.Event)

    def status(self) -> dict[str, Any]:
        """What the page shows: {method, label, n, state: running | done | failed, fraction in [0, 1], stage,
        elapsed (s), error}."""
        job = self.job
        state = "running" if not job.done else "failed" if job.error or job.coords is None else "done"
        stage = job.stage if state != "done" else (
            "loaded from the cache" if job.stage == "loaded from cache" else f"done in {job.elapsed:.1f} s")
        return {"method": self.method, "label": LABELS[self.method], "n": job.n, "state": state,
                "fraction": round(job.progress(), 3), "stage": stage, "elapsed": round(job.elapsed, 1),
                "error": job.error}


def layout_params(method: str, fit_size: int | None = None, **params: float) -> dict[str, Any]:
    """The parameters of a background layout: the app's defaults (explorer.analysis.map_jobs.METHOD_PARAMS), then
    the caller's, then fit_size (fit on a seeded sample of that many, place the rest) when given. ValueError for a
    method that does not run in the background."""
    if method not in BACKGROUND:
        raise ValueError(f"a background layout is one of {BACKGROUND}, got {method!r} (of {MAP_METHODS})")
    out: dict[str, Any] = {**METHOD_PARAMS[method], **params}
    if fit_size is not None:
        out["fit_size"] = int(fit_size)
    return out


class LayoutRunner:
    """Background layouts of one widget's codes (N, D): `request(method, ...)` starts (or finds: cached on disk,
    or already running for another widget of the same codes) the job and watches it; `cancel()` drops the current
    request. `current` is the latest request (None before the first and after a cancel)."""

    def __init__(self, codes: np.ndarray, digest: str, cache_dir: str | Path,
                 on_status: Callable[[dict[str, Any]], None], on_coords: Callable[[np.ndarray, str], None]) -> None:
        self.codes = np.ascontiguousarray(codes, dtype=np.float32).reshape(len(codes), -1)  # (N, D)
        self.digest = digest or "notebook"  # the weights digest a map is filed under; none without a model
        self.cache_dir = Path(cache_dir)
        self.on_status, self.on_coords = on_status, on_coords
        self.lock = threading.Lock()  # `current` changes, and the hand-over of coordinates, under it
        self.current: LayoutRequest | None = None

    def request(self, method: str, seed: int = 0, fit_size: int | None = None, **params: float) -> LayoutRequest:
        """Start the layout `method` ("umap" or "tsne") of the codes, superseding the current request, and watch it
        from a daemon thread. Returns at once."""
        full = layout_params(method, fit_size, **params)
        key = map_key(self.digest, DATASET, method, full, int(seed), self.codes)
        with self.lock:
            old = self.current
            if old is not None and old.key == key and not old.job.cancelled and not old.finished.is_set():
                return old  # the same layout, still on its way: no restart
            self.current = None
        self._drop(old)
        job = request_map(self.cache_dir, key, method, self.codes, full, seed=int(seed))
        req = LayoutRequest(method, full, int(seed), key, job)
        with self.lock:
            self.current = req
        threading.Thread(target=self._watch, args=(req,), daemon=True, name=f"layout-{method}").start()
        return req

    def cancel(self) -> None:
        """Drop the current request (a PCA layout asked for meanwhile): its job is cancelled when still running."""
        with self.lock:
            old, self.current = self.current, None
        self._drop(old)

    @staticmethod
    def _drop(req: LayoutRequest | None) -> None:
        if req is not None and not req.job.done:
            req.job.cancel()  # another widget of the same codes that still wants it asks again (_watch)
        if req is not None:
            req.finished.set()

    def _watch(self, req: LayoutRequest) -> None:
        shown, at = None, 0.0
        try:
            while self.current is req:
                status = req.status()
                progress = (status["fraction"], status["stage"])
                # a new stage or fraction at once; the elapsed time alone once a second (each one is a page update)
                if status["state"] == "running" and (progress != shown or time.monotonic() - at >= ELAPSED_S):
                    with self.lock:  # never after a newer request's own status
                        if self.current is not req:
                            break
                        self.on_status(status)
                    shown, at = progress, time.monotonic()
                if req.job.done and req.job.cancelled:  # cancelled by another widget's newer request: ask again
                    req.job = request_map(self.cache_dir, req.key, req.method, self.codes, req.params, seed=req.seed)
                    continue
                if req.job.done:
                    break
                time.sleep(WATCH_S)
            with self.lock:
                if self.current is not req:
                    return
                if req.job.error is None and req.job.coords is not None:
                    self.on_coords(np.asarray(req.job.coords, dtype=np.float32), req.method)
                self.on_status(req.status())
        finally:
            req.finished.set()


__all__ = ["BACKGROUND", "LABELS", "LayoutRequest", "LayoutRunner", "layout_params"]
