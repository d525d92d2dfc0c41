"""The spatial walk panel: a studio for codes that are C x H x W maps (diffusers AutoencoderKL, `pu`, spatial conv
families).

- a channel grid: each channel of the start code as a heat map, with its mean, std and KL (where the model has a
  posterior), and the channels' histograms, over the image and over a small data set sample;
- PCA of the code's channel vectors (its H x W cells, each a C-vector) shown as RGB;
- decoding with only the first k channels kept, the rest at their (data set) mean;
- walk axes that mean something: the principal directions of channel space, applied at every cell or only inside
  a rectangular region chosen with sliders (a painted brush waits for the rebuilt browser component);
- the linear preview (explorer.preview.linear) of the walked code beside its full decode, each labelled;
- the data set's per-channel mean and std as diffusers' `latents_mean` / `latents_std` JSON.

The maths is explorer.analysis.channels; every model call goes through ui.services.inference (the full decode
through explorer.runtime's watched_decode, whose CancelToken a newer request cancels).
"""

from __future__ import annotations

import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.analysis import channels as ch
from explorer.cache import array_digest
from explorer.preview.tiers import student_onnx_path
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.components import spatial_live
from ui.components.assets import b64
from ui.pages.walk import latent_files
from ui.pages.walk.registry import register_walk_panel
from ui.services import inference, preview_jobs
from ui.shared.walk_panel import KEEP, start_ui
from ui.shared.watched_decode import decode_ui
from ui.shared.widgets import heat_rgb, image_ui

SAMPLE_DEFAULT, SAMPLE_MAX = 16, 256  # data view items whose codes make the channel statistics (the user raises it)
AXES_SHOWN = ch.WALK_DIRECTIONS  # principal directions offered as sliders
LIVE_KEY = "spatial_live"  # the live walk's element
SLIDER_RANGE = 3.0  # in units of each direction's spread over the cells
BATCH = 8  # images a model call encodes at once for the KL per channel (a 256 px SD-sized encode is about 0.5 GB an image)
GRID_TARGET = 110  # display size of one channel's heat map, px


# -- model calls (inference thread), cached per model, image and settings ------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def _channel_kl(_model, model_key: str, images: np.ndarray) -> np.ndarray | None:
    """KL per channel (C,) averaged over images (N, C, H, W), or None where the posterior has no closed form."""
    parts = [inference.posterior_kl_elements(_model, images[i : i + BATCH]) for i in range(0, len(images), BATCH)]
    if any(p is None for p in parts):
        return None
    return np.concatenate(parts).sum(axis=(2, 3)).mean(0)


def _linear_preview(model, digest: str, cache_dir: str) -> Any:
    """The model's linear latent -> RGB preview (fitted once, cached on disk by the weights digest), waited for with
    a progress bar. The fit runs on the inference thread (ui.services.preview_jobs): a page switch or a rerun stops
    this wait at its next poll, never the fit, which the next visit finds running or done."""
    job = preview_jobs.request_linear_preview(model, digest, cache_dir)
    if not job.done:
        bar = st.progress(0.0, text="Fitting the linear preview (once for this model)")
        while not job.done:
            try:
                job.future.exception(timeout=0.25)  # returns once the fit has ended, failed or not
            except FutureTimeout:  # Streamlit stops the script here when the user moves on; the fit goes on
                bar.progress(job.fraction, text=f"Fitting the linear preview (once for this model): "
                                                f"{100 * job.fraction:.0f}%, {time.monotonic() - job.started:.0f} s")
        bar.empty()
    return job.future.result()


# -- layout ------------------------------------------------------------------------------------------
def _start(ctx: Ctx) -> tuple[np.ndarray, str, np.ndarray | None]:
    """(start code (C, H, W), description, the start image (C, H, W) when it came from an image)."""
    flat, described = start_ui(ctx, prefix="spatial", prefer_data=True)
    image = None
    kind = st.session_state.get("spatial_start")
    view = ctx.data_items()
    if kind == "data set example" and view.has_images:
        image = view.images[int(st.session_state.get("spatial_example", 0))]
    return np.asarray(flat, dtype=np.float64).reshape(ctx.latent_shape), described, image


def _early_start_image(ctx: Ctx) -> np.ndarray | None:
    """The start item's image where the walk will start on a data set item, read before the data view encodes the
    data set (ctx.first_item_image): an SD-sized encoder takes seconds an item, and the page's first picture would
    wait for all of them. None where the start is something else or the item is not among the first read."""
    kind = st.session_state.get("spatial_start", "data set example")  # the default, on a first visit
    if kind != "data set example":
        return None
    return ctx.first_item_image(int(st.session_state.get("spatial_example", 0)))


def _sample_ui(ctx: Ctx) -> tuple[np.ndarray | None, str]:
    """The data set sample's codes (N, C, H, W) and its name, or None without images."""
    view = ctx.data()
    if not view.has_images:
        return None, ""
    top = min(SAMPLE_MAX, len(view.images))
    st.session_state.setdefault("spatial_sample_n", min(SAMPLE_DEFAULT, top))
    n = int(st.number_input(f"Data set items for the channel statistics (budget; at most {top})", 1, top,
                            key="spatial_sample_n", **KEEP))
    # the data view's posterior means are these items' codes already (encoded once, under the sidebar's data
    # budget): encoding them again cost an SD-sized encoder seconds an item before the page drew its first picture
    return view.means[:n].reshape(n, *ctx.latent_shape), f"{n} items of {view.name}"


def channel_grid_ui(ctx: Ctx, code: np.ndarray, image: np.ndarray | None, sample: np.ndarray | None,
                    sample_name: str) -> None:
    """Each channel of the code as a heat map with its statistics; a table and histograms beside."""
    st.subheader("Channels")
    c = code.shape[0]
    here = ch.channel_stats(code)
    posterior = ctx.model.capabilities().posterior
    kl_image = kl_sample = None
    if posterior:
        try:
            if image is not None:
                kl_image = _channel_kl(ctx.model, ctx.key, np.asarray(image, dtype=np.float32)[None])
            if sample is not None:
                view = ctx.data()
                kl_sample = _channel_kl(ctx.model, ctx.key, view.images[: len(sample)])
        except (NotImplementedError, ValueError) as err:
            st.caption(f"No KL per channel: {err}")
    else:
        st.caption("This model encodes to a plain latent with no posterior q(z | x), so there is no KL per channel.")
    cols = st.columns(min(c, 8))
    for i in range(c):
        m = float(np.abs(code[i]).max()) or 1.0
        kl = "" if kl_image is None else f", KL {kl_image[i]:.2f} nats"
        cols[i % len(cols)].image(heat_rgb(code[i], vmax=m, vmin=-m, cmap="RdBu_r", target=GRID_TARGET),
                                  caption=f"channel {i}: mean {here.mean[i]:.2f}, std {here.std[i]:.2f}{kl}")
    st.caption("Heat maps: blue negative, red positive, each on its own ±max scale.")
    table = {"channel": list(range(c)), "mean (image)": here.mean, "std (image)": here.std}
    if kl_image is not None:
        table["KL (image, nats)"] = kl_image
    both = code[None] if sample is None else np.concatenate([code[None], sample])
    lo, hi = float(both.min()), float(both.max())
    if sample is not None:
        pooled = ch.channel_stats(sample)
        table[f"mean ({sample_name})"] = pooled.mean
        table[f"std ({sample_name})"] = pooled.std
        if kl_sample is not None:
            table[f"KL ({sample_name}, nats)"] = kl_sample
    st.dataframe(pd.DataFrame(table), hide_index=True)
    counts, edges = ch.channel_histograms(sample if sample is not None else code, bins=30, value_range=(lo, hi))
    centres = (edges[0][:-1] + edges[0][1:]) / 2
    fig = go.Figure([go.Scatter(x=centres, y=counts[i], mode="lines", name=f"ch {i}") for i in range(c)])
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title=f"Histogram of each channel's values over {sample_name or 'the image'}",
                      xaxis_title="value", yaxis_title="count")
    st.plotly_chart(fig, key="channel_histograms")  # Plotly, as every other chart in the app (no Vega, no Altair)


def latents_json_ui(ctx: Ctx, sample: np.ndarray | None, sample_name: str) -> None:
    if sample is None:
        return
    stats = ch.channel_stats(sample)
    st.download_button("Per-channel mean and std (latents_mean / latents_std JSON)",
                       data=ch.latents_stats_json(stats, sample_name, ctx.entry.name),
                       file_name="latents_stats.json", mime="application/json", key="spatial_latents_json",
                       on_click="ignore")
    st.caption(f"Over {stats.cells} code cells of {sample_name}, in the form of a diffusers AutoencoderKL config. "
               "These are the statistics of the codes this page shows (after the model's own scaling).")


def _show(container, image: np.ndarray, caption: str) -> None:
    image_ui(container, np.clip(image, 0.0, 1.0), caption=caption, target=220)


def _linear(ctx: Ctx):
    try:
        return _linear_preview(ctx.model, ctx.weights_digest(), str(app_config().cache_dir))
    except (ValueError, RuntimeError) as err:
        st.caption(f"No linear preview for this model: {err}")
        return None


@register_walk_panel("spatial")
def spatial_walk(ctx: Ctx) -> None:
    """The studio for C x H x W codes (see the module docstring)."""
    latent_files.upload_ui(ctx, "spatial")
    controls = st.container()  # the start's and the sample's controls, drawn above the pictures but after the first
    top = st.columns(3)
    start_slot = top[0].empty()
    early = _early_start_image(ctx)
    if early is not None:  # the picture the walk starts from, before the data set is encoded
        _show(start_slot, early, "start image")
    with controls:
        code, described, image = _start(ctx)  # the start item's encode alone (Ctx.data_items encodes no data set)
        c, h, w = code.shape
        st.caption(f"Start: {described}. The code is {c} channels x {h} x {w} cells.")
    if image is not None:
        _show(start_slot, image, "start image")
    elif early is not None:
        start_slot.empty()
    start_img = decode_ui(ctx.model, ctx.key, code, "start", st.empty())
    if start_img is not None:
        _show(top[1], start_img, "start code (full decode)")

    with controls:  # the data set sample is encoded after the start code's decode is shown
        sample, sample_name = _sample_ui(ctx)
    pca = ch.channel_pca(sample if sample is not None else code)
    mean = ch.channel_stats(sample if sample is not None else code).mean
    basis = sample_name or "this image's cells"
    _show(top[2], ch.pca_rgb(code, pca),
          f"PCA of the channel vectors as RGB (components 1-3 over {basis})")

    channel_grid_ui(ctx, code, image, sample, sample_name)
    latents_json_ui(ctx, sample, sample_name)

    st.subheader("Walk the principal directions of channel space")
    preview = _linear(ctx)
    live = preview is not None and app_config().live and spatial_live.assets_installed()
    if live:
        live_walk_ui(ctx, code, pca, sample if sample is not None else code[None], preview, basis)
    if not live or spatial_live.page_status(LIVE_KEY) == "pending":
        server_walk_ui(ctx, code, pca, preview, basis, live)

    st.subheader("The first k channels")
    k = int(st.slider("Keep channels 0 .. k-1; the rest at their mean", 0, c, value=c, key="spatial_keep_k", **KEEP))
    kept = decode_ui(ctx.model, ctx.key, ch.keep_first_channels(code, k, mean), "first-k", st.empty())
    if kept is not None:
        _show(st, kept, f"full decode with the first {k} of {c} channels (the rest at their mean over {basis})")


def server_walk_ui(ctx: Ctx, code: np.ndarray, pca: ch.ChannelPCA, preview, basis: str, live: bool) -> None:
    """The walk with server sliders: where the page cannot preview (no linear preview, live decoding off, or the
    component not drawn yet), each slider release decodes on the server; the region is a rectangle of cells."""
    c, h, w = code.shape
    why = ("while the in-page preview loads" if live else
           "the in-page preview needs the linear preview and live decoding (VAE_EXPLORER_LIVE)")
    st.caption(f"Each direction is a {c}-vector over channels (fitted on {basis}); sliders move every cell, or only "
               f"the cells of the region, by that many spreads. Server sliders {why}; the region is a rectangle of "
               "code cells chosen with sliders.")
    n_axes = min(AXES_SHOWN, c)
    moved = code.copy()
    cols = st.columns(n_axes)
    region = st.toggle("Only inside a region", key="spatial_region_on", **KEEP)
    mask = None
    if region:
        rc = st.columns(2)
        rows = rc[0].slider("Region rows (cells)", 0, h, (h // 4, max(h // 4 + 1, 3 * h // 4)), key="spatial_rows", **KEEP)
        colr = rc[1].slider("Region columns (cells)", 0, w, (w // 4, max(w // 4 + 1, 3 * w // 4)), key="spatial_cols", **KEEP)
        try:
            mask = ch.rect_mask((h, w), rows[0], colr[0], rows[1], colr[1])
        except ValueError as err:
            st.warning(f"Region: {err}")
    for i in range(n_axes):
        st.session_state.setdefault(f"spatial_axis_{i}", 0.0)
        amount = cols[i].slider(f"direction {i + 1} ({100 * pca.explained[i]:.0f}% of variance)", -SLIDER_RANGE,
                                SLIDER_RANGE, step=0.1, key=f"spatial_axis_{i}", **KEEP)
        if amount:
            moved = ch.move_along(moved, pca.components[i], amount * float(pca.std[i] or 1.0), mask)
    out = st.columns(2)
    if preview is not None:
        rgb = preview.apply_numpy(moved)
        _show(out[0], np.kron(rgb, np.ones((1, preview.factor, preview.factor))), "linear preview")
    full = decode_ui(ctx.model, ctx.key, moved, "walk", out[1].empty())
    if full is not None:
        _show(out[1], full, "full decode")
    latent_files.code_download_ui(ctx, moved, prefix="spatial")


def _student(ctx: Ctx) -> dict:
    """The student decoder's bytes for tier b (once per session and model), or nothing without a student or where
    its file is over the page's message limit."""
    path = student_onnx_path(ctx.entry.folder)
    if path is None:
        return {}
    size = path.stat().st_size
    if size * 4 / 3 > int(st.get_option("server.maxMessageSize")) * 2**20:
        st.caption(f"The distilled preview ({path.name}, {size / 2**20:.0f} MB) is over the page's message limit; "
                   "the linear preview stands in.")
        return {}
    key = f"{ctx.key}:{size}:{path.stat().st_mtime_ns}"
    sent: set = st.session_state.setdefault("_spatial_student_sent", set())
    state = st.session_state.get(LIVE_KEY)
    status = state.get("status") if state is not None and hasattr(state, "get") else None
    if key in sent and not (isinstance(status, dict) and status.get("student_missing") == key):
        return {"student_key": key}
    sent.add(key)
    return {"student_key": key, "student_b64": b64(path.read_bytes())}


def live_walk_ui(ctx: Ctx, code: np.ndarray, pca: ch.ChannelPCA, cells: np.ndarray, preview, basis: str) -> None:
    """The walk in the page (ui.components.spatial_live): tier a on every pointer event, tier b where a student
    decoder exists, tier c (the server's full decode, a watched call with progress and Cancel) on release."""
    axes = ch.walk_axes(pca, cells)  # AXES_SHOWN directions, then ch.WALK_CHANNELS single channels
    k = len(axes.labels)
    code_key = array_digest(code, axes.directions, axes.scales, prefix=str(np.shape(code)).encode())
    release = spatial_live.released_state(LIVE_KEY, code_key, code.shape, k)
    values = np.zeros(k) if release is None else release.values
    mask = None if release is None else release.mask
    slot = st.empty()  # the full decode's bar and Cancel, above the element (which stays drawn meanwhile)
    moved = ch.walked(code, axes, values, mask)
    full = decode_ui(ctx.model, ctx.key, moved, "walk", slot)
    payload = None if full is None else spatial_live.image_payload(full, 0 if release is None else release.nonce)
    lists = preview.as_lists()
    student = _student(ctx)
    spatial_live.spatial_live(LIVE_KEY, code, code_key, lists["weights"], lists["bias"], axes.directions, axes.scales,
                              axes.labels,
                              [(-SLIDER_RANGE, SLIDER_RANGE)] * k, values, mask, payload, display_size=256,
                              note="" if full is not None else "No full decode for this release: it was cancelled "
                              "or refused (the message above says which); the preview stays.", **student)
    distilled = (", replaced as its frames arrive by the distilled preview (a small decoder trained to follow this "
                 "model, run in a Web Worker)") if student else ""
    st.caption(f"Directions 1-{min(AXES_SHOWN, code.shape[0])} are principal directions of channel space (over "
               f"{basis}); channels move one channel; each in units of its spread. While you drag or paint, the image "
               f"is the linear preview (a fitted latent -> RGB map, painted in the page){distilled}; on release the "
               "server decodes the code fully and that replaces it. The label under the image says which one you see.")
    latent_files.code_download_ui(ctx, moved, prefix="spatial_live")  # beside the server walk's own while the page loads
