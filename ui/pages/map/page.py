"""The Latent map page: the encoded means in 2-D (PCA, UMAP, t-SNE, or the raw plane of a 2-D code), with selection.

Kept apart from `ui/pages/map.py` (which only calls `page()`), so its helpers can be imported by tests."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from explorer.analysis.map_jobs import METHOD_PARAMS, map_key, request_map
from explorer.analysis.maps import place_by_neighbours
from explorer.images import display_scale, make_grid, to_uint8
from explorer.latent import plane_grid
from explorer.pca import project_pca
from ui.app.config import MAP_LIMIT, app_config
from ui.app.context import Ctx, require_ctx
from ui.app.dataviews import DataView
from ui.app.navigation import switch_to
from ui.app.perf import settle
from ui.pages.map import discrete
from ui.pages.map.big import big_page, encodings_of
from ui.pages.map.jobs_ui import encode_ui, failed_job_ui, progress_ui
from ui.services import inference
from ui.shared.captioning import word_colour_ui
from ui.shared.pad import map_pad
from ui.shared.pca_map import pca_map
from ui.shared.watched_decode import decode_ui
from ui.shared.widgets import encode_one, image_ui, reconstruct_one, usable_uploads

METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne", "latent plane": "plane"}
MAX_GALLERY = 60


def map_coords(ctx: Ctx, view: DataView, method: str) -> tuple[np.ndarray, str, str]:
    """(coords (N, 2), method actually shown, note)."""
    if method == "pca":
        return pca_map(ctx, view)[0], "pca", ""
    if method == "plane":
        return view.means[:, :2], "plane", "raw latent coordinates (z0, z1)"
    stored = ctx.analysis.get(f"{method}_coords")
    if view.from_analysis and stored is not None and len(stored) == len(view.means):
        by = "with the checkpoint" if ctx.analysis_dataset == ctx.own_dataset else "by the evaluate command"
        return stored, method, f"precomputed {by}"
    params = METHOD_PARAMS[method]
    key = map_key(ctx.weights_digest(), view.name, method, params, 0, view.means)
    job = request_map(app_config().cache_dir, key, method, view.means, params, seed=0, retry_failed=False)
    label = "UMAP" if method == "umap" else "t-SNE"
    if job.done and job.coords is not None:
        return job.coords, method, f"computed here and cached in {app_config().cache_dir}"
    if job.done:
        failed_job_ui(job, label)
    else:
        progress_ui(key, label)
    return pca_map(ctx, view)[0], "pca", f"{label} not ready: showing PCA"


def place_uploads(ctx: Ctx, view: DataView, method: str, coords: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Uploads on the current map: exact PCA projection, raw plane, or nearest-neighbour placement."""
    ups = usable_uploads(ctx)
    if not ups or ctx.code_kind == "discrete":  # a discrete model's points are histograms, not codes
        return [], np.zeros((0, 2))
    means = np.stack([encode_one(ctx, u.tensor) for u in ups])
    if method == "pca":
        _, comps, mean = pca_map(ctx, view)
        pos = project_pca(means, comps, mean)
    elif method == "plane":
        pos = means[:, :2]
    else:
        pos = place_by_neighbours(means, view.means, coords)
    return [u.name for u in ups], pos


def figure(view: DataView, coords: np.ndarray, colour: np.ndarray | None, colour_name: str,
           upload_names: list[str], upload_pos: np.ndarray, axis_titles: tuple[str, str]):
    """WebGL scatter, one trace per label (or per caption-word group); returns (figure, index per trace)."""
    import plotly.graph_objects as go

    groups = colour if colour is not None else view.labels
    scatter = go.Scatter if app_config().map_renderer == "svg" else go.Scattergl  # WebGL unless asked otherwise
    traces, index = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        name = (colour_name.format(bool(g)) if colour is not None else
                (view.label_name(int(idx[0])) if g >= 0 else "unlabelled"))
        traces.append(scatter(x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=name, customdata=idx,
                                   marker={"size": 5, "opacity": 0.8}, hovertemplate="item %{customdata}<extra>" + name + "</extra>"))
        index.append(idx)
    if len(upload_names):
        traces.append(scatter(x=upload_pos[:, 0], y=upload_pos[:, 1], mode="markers+text", name="uploads",
                                   text=upload_names, textposition="top center",
                                   marker={"size": 14, "symbol": "star", "color": "black", "line": {"width": 1, "color": "white"}}))
        index.append(np.full(len(upload_names), -1))
    fig = go.Figure(traces)
    settle("plotly")
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="select",
                      xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], legend={"itemsizing": "constant"})
    return fig, index


def selected_items(event: Mapping[str, Any] | None, index: list[np.ndarray]) -> list[int]:
    """Item indices of the selected points (uploads excluded), in selection order, without repeats.

    event: what `st.plotly_chart(on_select="rerun")` returns (a PlotlyState, which is a dict), or None.
    """
    points = (event or {}).get("selection", {}).get("points", [])
    out: list[int] = []
    for p in points or []:
        curve, i = p.get("curve_number"), p.get("point_index", p.get("point_number"))
        if curve is None or i is None or curve >= len(index) or i >= len(index[curve]):
            continue
        item = int(index[curve][i])
        if item >= 0 and item not in out:
            out.append(item)
    return out


def csv_bytes(view: DataView, coords: np.ndarray, method: str) -> bytes:
    buf = io.StringIO()
    buf.write(f"index,label,class,{method}_x,{method}_y\n")
    for i, (x, y) in enumerate(coords):
        buf.write(f"{i},{int(view.labels[i])},{view.label_name(i)},{x:.6g},{y:.6g}\n")
    return buf.getvalue().encode()


def point_ui(ctx: Ctx, view: DataView, item: int) -> None:
    """One picked point: its image, reconstruction, and a button that starts the latent walk there."""
    st.subheader(f"Item {item} ({view.label_name(item)})")
    c = st.columns([1, 1, 2])
    if view.has_images:
        image_ui(c[0], view.image(item), "original")
    if ctx.code_kind == "discrete":  # its point is a code histogram, which does not decode
        image_ui(c[1], reconstruct_one(ctx, view.image(item)), "reconstruction")
        return
    decoded = decode_ui(ctx.model, ctx.key, view.means[item], "item decode", c[1].empty())  # bar, Cancel
    if decoded is not None:
        image_ui(c[1], decoded, f"decoded {ctx.model.code_name}")
    if c[2].button("Send to latent walk", key="map_send", type="primary"):
        st.session_state["walk_from_map"] = {"model_key": ctx.key, "dataset": view.name, "index": item,
                                             "code": view.means[item].astype(np.float64).tolist()}
        st.session_state["walk_start"] = "map point"
        switch_to("walk")


def plane_grid_ui(ctx: Ctx, coords: np.ndarray) -> None:
    n = int(st.slider("Grid size", 5, 20, 12, key="map_grid_n"))
    lo = np.minimum(coords.min(0), -3.0)
    hi = np.maximum(coords.max(0), 3.0)
    pics = inference.decode_codes(ctx.model, plane_grid((lo[0], lo[1]), (hi[0], hi[1]), n))
    tile = make_grid(pics, nrow=n, pad=0)
    st.image(to_uint8(tile, display_scale(*tile.shape[-2:], 520)), output_format="PNG",
             caption=f"Decoded images on a {n} x {n} grid over z0 in [{lo[0]:.1f}, {hi[0]:.1f}] (left to right) "
                     f"and z1 in [{lo[1]:.1f}, {hi[1]:.1f}] (top to bottom: high to low).")


def page() -> None:
    ctx = require_ctx()
    st.title("Latent map")

    stored = encodings_of(ctx)
    test_items = f"test items of {ctx.dataset} (up to {MAP_LIMIT:,})"  # the note under the map says how many
    sources = [test_items] + [e.label for e in stored]
    source = st.selectbox("Points", sources, key="map_points",
                          help="A whole data set encoded by `vae-evaluate MODEL --dataset NAME --encode-only` is "
                               "offered here once stored (any size: drawn by the big map).")
    if source == test_items:
        encode_ui(ctx, stored)
    if len(sources) == 1:
        st.caption("To map a whole data set (any size), encode it once: the button above, or "
                   f"`vae-evaluate {ctx.entry.folder} --dataset NAME --split both --encode-only`.")
    names = [m for m in METHODS if METHODS[m] != "plane" or ctx.latent_size == 2]
    c = st.columns([3, 2])
    choice = c[0].radio("Map", names, horizontal=True, key="map_method", persist_state="session")
    if source != test_items and source in sources:
        big_page(ctx, stored[sources.index(source) - 1], choice)
        return
    view = ctx.data()
    if ctx.code_kind == "discrete":
        view = discrete.histogram_view(ctx, view)
        if view is None:
            return
    colour, colour_name = None, ""
    if ctx.has_captions:
        colour, colour_name = word_colour_ui(ctx, view, c[1])
    coords, shown, note = map_coords(ctx, view, METHODS[choice])
    up_names, up_pos = place_uploads(ctx, view, shown, coords)
    titles = ("z0", "z1") if shown == "plane" else (f"{shown.upper()} 1", f"{shown.upper()} 2")
    fig, index = figure(view, coords, colour, colour_name, up_names, up_pos, titles)
    event = st.plotly_chart(fig, key=f"map:{ctx.key}:{view.name}:{shown}", on_select="rerun",
                            selection_mode=("points", "box", "lasso"), config={"displaylogo": False})
    what = discrete.NOTE if ctx.code_kind == "discrete" else f"each point its {ctx.model.code_name}"
    parts = [f"{len(coords)} test items of {view.name}, {what}", note, view.note]
    if up_names:
        parts.append(f"{len(up_names)} upload(s) as stars" + (" (placed by nearest neighbours)" if shown in ("umap", "tsne") else ""))
    st.caption("; ".join(p for p in parts if p) + ". Click a point, or draw a box or lasso, to see the items.")
    st.download_button("Coordinates (CSV)", data=lambda: csv_bytes(view, coords, shown), file_name=f"map-{view.name}-{shown}.csv",
                       mime="text/csv", on_click="ignore", key="map_csv")
    if shown in ("pca", "plane") and ctx.code_kind != "discrete":  # hover/drag over the map's plane, decoded in the browser (none without an export)

        _, comps, mean = pca_map(ctx, view) if shown == "pca" else (None, None, None)
        map_pad(ctx, view, shown, coords, comps, mean)
    items = selected_items(event, index)
    if len(items) == 1:
        point_ui(ctx, view, items[0])
    elif items:
        st.subheader(f"{len(items)} selected")
        if view.has_images:
            shown_items = items[:MAX_GALLERY]
            s = display_scale(*ctx.shape[-2:], 56)
            st.image([to_uint8(view.image(i), s) for i in shown_items], output_format="PNG",
                     caption=[f"{i}: {view.label_name(i)}" for i in shown_items])
            if len(items) > MAX_GALLERY:
                st.caption(f"First {MAX_GALLERY} of {len(items)} shown.")
        else:
            st.info("The images of this data set are not available here.")
        pick = st.selectbox("Look closer at", items, key="map_pick", format_func=lambda i: f"item {i} ({view.label_name(i)})")
        point_ui(ctx, view, int(pick))
    if shown == "plane":
        st.subheader("Decoded latent plane")
        plane_grid_ui(ctx, coords)
