"""A model's linear latent -> RGB preview (explorer.preview.linear), fitted once per process on the inference thread.

The fit decodes about 64 latent tiles: seconds for a small model, up to minutes for an SD-sized one. The page waits
for it with a progress bar, but a page switch or another rerun stops the page's script and not the fit, so a page
never waits on it without being able to leave, and the next visit finds it running, or done (its result is kept
here, and on disk by the weights digest: `cached_linear_preview`).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.preview.linear import cached_linear_preview
from ui.services import inference

if TYPE_CHECKING:
    from explorer.models.base import VAE
    from explorer.runtime.progress import Progress


@dataclass
class PreviewJob:
    """One fit: how far it is (the fit's encode and decode steps), then its LinearPreview or its error."""

    key: tuple[str, str]  # (weights digest, cache folder)
    fraction: float = 0.0
    started: float = field(default_factory=time.monotonic)
    future: Future | None = None

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()


_JOBS: dict[tuple[str, str], PreviewJob] = {}
_LOCK = threading.Lock()


def request_linear_preview(model: VAE, digest: str, cache_dir: str | Path) -> PreviewJob:
    """The fit of this model's preview: running, finished (its future holds the LinearPreview), or started now.
    A failed fit is started again on the next request (the page says why it failed meanwhile)."""
    key = (digest, str(cache_dir))
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and not (job.done and job.future.exception() is not None):
            return job
        job = _JOBS[key] = PreviewJob(key)

        def on_progress(progress: Progress) -> None:
            job.fraction = progress.fraction

        def work() -> Any:
            return cached_linear_preview(model, digest, cache_dir, on_progress=on_progress)

        job.future = inference.submit(work)
    return job


__all__ = ["PreviewJob", "request_linear_preview"]
