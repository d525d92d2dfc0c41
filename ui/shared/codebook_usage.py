"""A discrete model's code indices over the data set the pages hold, counted once in the background
(ui.services.codebook_jobs) and shared by the codebook panel (usage) and the map (pooled histograms)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.app.config import app_config
from ui.app.context import Ctx
from ui.services import codebook_jobs


@st.fragment(run_every=1.0)
def _progress_ui(key: str, what: str) -> None:
    """Polls the background count; the whole page reruns when it is done."""
    job = codebook_jobs.peek(key)
    if job is None or job.done:
        st.rerun()
    st.progress(job.fraction, text=f"{what}: {job.items_done} of {job.n} items encoded ({job.elapsed:.0f} s). "
                                   "The rest of the page is usable meanwhile.")


def dataset_indices(ctx: Ctx, images: np.ndarray, name: str, key_prefix: str) -> list[np.ndarray] | None:
    """Every item's code indices per level [(N, h, w)] of images (N, C, H, W), from the cache (keyed by the weights
    digest, the data set and its images) or a background job; None while it runs (a progress bar shows) or after it
    failed (its reason shows, with a button that starts it again)."""
    cache = app_config().cache_dir
    key = codebook_jobs.usage_key(ctx.weights_digest(), name, len(images), images)
    found = codebook_jobs.load_cached(cache, key)
    if found is not None:
        return found
    job = codebook_jobs.request_indices(cache, key, ctx.model, images)
    if job.done and job.error:
        st.error(f"Encoding {name} to code indices failed: {job.error}")
        if st.button("Encode again", key=f"{key_prefix}_recount"):
            codebook_jobs.forget(key)
            st.rerun()
        return None
    if job.done:  # written just now (or the cache folder is not writable: the job's own result)
        return codebook_jobs.load_cached(cache, key) or job.future.result()
    _progress_ui(key, f"Encoding {len(images)} items of {name} to code indices")
    return None


__all__ = ["dataset_indices"]
