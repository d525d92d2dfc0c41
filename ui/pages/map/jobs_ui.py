"""The map page's background jobs on the page: their progress, the button that encodes a whole split, and a
failed job's reason with a restart button (used by the Plotly map and the big map alike)."""

from __future__ import annotations

import signal

import streamlit as st

from explorer.runtime.workers import Job
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.services.mapjobs import encoding_key, peek, request_encoding, restart


@st.fragment(run_every=1.0)
def _job_progress_ui(key: str, what: str, meanwhile: str) -> None:
    """Polls a background job; when it is done, the whole page reruns to show what it made."""
    job = peek(key)
    if job is None:
        return
    if job.done:
        st.rerun()
    st.progress(job.progress(), text=f"{what} in the background ({job.stage}, {job.elapsed:.0f} s). {meanwhile}")


def progress_ui(key: str, label: str) -> None:
    """A background map's progress; the page reruns with the new map when it is done."""
    job = peek(key)
    points = job.n if job is not None else 0
    _job_progress_ui(key, f"Computing {label} of {points} points",
                     "The PCA map is shown meanwhile; everything else stays usable.")


def encode_progress_ui(key: str, dataset: str) -> None:
    """A background encoding's progress; the page reruns and offers the stored encoding when it is done."""
    _job_progress_ui(key, f"Encoding the whole test split of {dataset}", "It is offered under Points when done.")


def encode_ui(ctx: Ctx, stored: list) -> None:
    """A button that encodes the whole test split of the sidebar's data set in the background (as `vae-evaluate
    ... --encode-only` does), its progress, and its failure with a restart; nothing once it is stored."""
    if any(e.dataset == ctx.dataset and e.split == "test" for e in stored):
        return
    key = encoding_key(ctx.entry.folder, ctx.dataset, "test", ctx.dataset_options)
    job = peek(key)
    if job is None:
        if st.button(f"Encode the whole test split of {ctx.dataset} here", key="map_encode",
                     help="Streams every test item through the model into the cache, in a background process; "
                          "then the big map draws all of them"):
            request_encoding(ctx.entry.folder, ctx.dataset, "test", ctx.dataset_options, 0, app_config().cache_dir,
                             app_config().trusted_code)
            st.rerun()
    elif not job.done:
        encode_progress_ui(key, ctx.dataset)
    elif job.error:
        failed_job_ui(job, f"the encoding of {ctx.dataset}", key="map_encode_restart")
    else:
        st.warning(f"The encoding of {ctx.dataset} finished but is not among this model's stored encodings "
                   f"(in {app_config().cache_dir}).")


def failed_job_ui(job: Job, label: str, key: str = "map_restart") -> None:
    """A background map that failed: why (a killed worker is named as such) and a button that starts it again."""
    if job.killed_by is not None:
        try:
            name = signal.Signals(job.killed_by).name
        except ValueError:
            name = f"signal {job.killed_by}"
        worker = "encoding" if job.method == "encode" else "map"
        points = f" of {job.n:,} points" if job.n else ""
        meanwhile = "" if job.method == "encode" else "; the PCA map is shown meanwhile"
        st.error(f"The {worker} worker was killed ({name}) while computing {label}{points}, after "
                 f"{job.elapsed:.0f} s. Nothing was cached{meanwhile}.")
    else:
        st.error(f"{'T' + label[1:] if label.startswith('the ') else label} could not be computed: {job.error}")
    if st.button(f"Restart {label}", key=key, help="Start the background worker again"):
        restart(job.key)
        st.rerun()


__all__ = ["encode_progress_ui", "encode_ui", "failed_job_ui", "progress_ui"]
