"""The Compare page's pieces: a context per compared model, the image-shape check, metrics (stored or scored
here), KL bar charts, Procrustes-aligned PCA maps and the loss lab's ranking of each model's reconstruction.

Kept apart from `ui/pages/compare/page.py` (which lays out the page) so its helpers can be tested. Every model call
goes through ui/services/inference.py; arrays are cached per model key (`st.cache_data`, the model itself is not hashed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from explorer.analysis import losslab
from explorer.analysis.align import Alignment, procrustes_align
from explorer.pca import fit_pca
from ui.app.catalogue import Entry, evaluations, folder_stamp, load_model, read_analysis, read_config, read_evaluation
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.app.dataviews import conformed
from ui.services import inference

MAX_MODELS = 4
METRIC_COLUMNS = {  # metrics.json key -> column title
    "elbo_nats": "ELBO (nats)",
    "recon_nll_nats": "reconstruction NLL (nats)",
    "kl_nats": "KL (nats)",
    "iwae_nll_nats": "IWAE NLL (nats)",
    "elbo_bits_per_dim": "ELBO (bits/dim)",
    "iwae_bits_per_dim": "IWAE (bits/dim)",
    "active_units": "active units",
}


def shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(int(s)) for s in shape)


def model_ctx(entry: Entry, device: str, dataset: str) -> Ctx:
    """A context for one compared model, as the sidebar builds one, with `dataset` as its data set: its own
    metrics and analysis when `dataset` is its own, the evaluate command's when it was evaluated on it, else none
    (the page then scores it here). A conditional model gets class 0 as its default, like the sidebar's.
    Raises whatever loading the model raises."""
    cfg = app_config()
    folder = entry.folder
    stamp = folder_stamp(Path(folder))
    meta = read_config(folder, stamp)
    model = load_model(folder, device, stamp)
    config, metrics = meta["config"], meta["metrics"]
    own = (config.get("dataset") or {}).get("name") or entry.dataset
    options = json.dumps((config.get("dataset") or {}).get("options") or {}, sort_keys=True) if dataset == own else "{}"
    analysis: dict[str, np.ndarray] = {}
    analysis_dataset = ""
    if own and dataset == own:
        analysis, analysis_dataset = read_analysis(folder, stamp), own
    else:
        evaluated = evaluations(folder, stamp)
        if dataset in evaluated:
            metrics, analysis = read_evaluation(evaluated[dataset], stamp)
            analysis_dataset = dataset
            options = json.dumps((metrics.get("dataset") or {}).get("options") or {}, sort_keys=True)
        else:
            metrics = {}
    condition = 0 if model.capabilities().condition_classes else None
    key = hashlib.sha1(f"{folder}|{stamp}|{device}|compare".encode()).hexdigest()[:10]
    return Ctx(entry, device, config, metrics, analysis, stamp, dataset, options, cfg.limits, key, model,
               analysis_dataset, condition)


def evaluated_datasets(entries: list[Entry]) -> dict[str, str]:
    """The data sets any of `entries` was evaluated on (the evaluate command): name -> the loader options JSON
    that evaluation used, first entry first."""
    found: dict[str, str] = {}
    for entry in entries:
        stamp = folder_stamp(Path(entry.folder))
        for name, folder in evaluations(entry.folder, stamp).items():
            if name not in found:
                metrics, _ = read_evaluation(folder, stamp)
                found[name] = json.dumps((metrics.get("dataset") or {}).get("options") or {}, sort_keys=True)
    return found


def own_options(entries: list[Entry], dataset: str) -> str:
    """JSON of the loader options of `dataset` as the first of `entries` trained on it saved them, else as it was
    evaluated ("{}" if neither)."""
    for entry in entries:
        if entry.dataset == dataset:
            config = read_config(entry.folder, folder_stamp(Path(entry.folder)))["config"]
            return json.dumps((config.get("dataset") or {}).get("options") or {}, sort_keys=True)
    return evaluated_datasets(entries).get(dataset, "{}")


def shape_refusals(shapes: list[tuple[int, int, int]], names: list[str]) -> tuple[list[int], list[str]]:
    """Which models can be compared with the first: (indices kept, one message per refused model naming both
    image shapes)."""
    kept, refused = [], []
    for i, (shape, name) in enumerate(zip(shapes, names)):
        if tuple(shape) == tuple(shapes[0]):
            kept.append(i)
        else:
            refused.append(f"{name} takes {shape_text(shape)} images (C x H x W) but {names[0]} takes "
                           f"{shape_text(shapes[0])}: models compared here must share an image shape, so "
                           f"{name} is left out.")
    return kept, refused


# -- metrics ---------------------------------------------------------------------------------------
@dataclass
class ModelMetrics:
    """One model's figures for the table, and where they come from."""

    values: dict[str, Any]
    kl_per_dim: np.ndarray | None  # (D,) mean KL per code dimension, nats
    source: str


def stored_metrics(ctx: Ctx) -> ModelMetrics | None:
    """The checkpoint's metrics.json (or the evaluate command's) for the page's data set, when it has them."""
    m = ctx.metrics
    if ctx.analysis_dataset != ctx.dataset or not isinstance(m.get("elbo_nats"), (int, float)):
        return None
    kl = ctx.kl_per_dim() if ctx.has_kl_per_dim() else None
    where = "metrics.json" if ctx.analysis_dataset == ctx.own_dataset else "the evaluate command"
    items = m.get("test_items", "?")
    k = m.get("iwae_k")
    return ModelMetrics(dict(m), kl, f"{where}: {items} test items" + (f", IWAE k={k}" if k else ""))


@st.cache_data(show_spinner="Scoring test items ...", max_entries=32)
def _scored(_model, model_key: str, dataset: str, options: str, shape: tuple, background: tuple, n_items: int,
            iwae_k: int) -> tuple[dict[str, Any], str]:
    images, labels, _ = conformed(dataset, options, shape, background, n_items)
    try:
        metrics, _ = inference.evaluate_items(_model, images, labels, iwae_k)
    except ValueError as exc:  # a conditional model and unlabelled items
        return {}, str(exc)
    return metrics, ""


def scored_metrics(ctx: Ctx, n_items: int, iwae_k: int) -> ModelMetrics | str:
    """The first n_items test items of the page's data set scored here as the evaluate command scores them;
    the reason as text when they cannot be."""
    bg = tuple(float(v) for v in ctx.background())
    metrics, problem = _scored(ctx.base_model, ctx.key, ctx.dataset, ctx.dataset_options, ctx.shape, bg,
                               int(n_items), int(iwae_k))
    if problem:
        return problem
    kl = np.asarray(metrics["kl_per_dim"], dtype=np.float64)
    return ModelMetrics(metrics, kl, f"scored here: {metrics['test_items']} test items" +
                        (f", IWAE k={iwae_k}" if iwae_k else ""))


def metrics_table(names: list[str], families: list[str], dims: list[int], found: list[ModelMetrics | str]) -> dict[str, list]:
    """Columns of the side-by-side table (one row per model); columns no model has are left out."""
    table: dict[str, list] = {"model": list(names), "family": list(families), "code size": list(dims)}
    for key, title in METRIC_COLUMNS.items():
        col = [m.values.get(key) if isinstance(m, ModelMetrics) else None for m in found]
        if any(isinstance(v, (int, float)) for v in col):
            table[title] = [float(v) if isinstance(v, (int, float)) else None for v in col]
    table["figures from"] = [m.source if isinstance(m, ModelMetrics) else f"not scored: {m}" for m in found]
    return table


def kl_figure(kl: np.ndarray, title: str):
    """A small Plotly bar chart of the mean KL per code dimension (nats)."""
    import plotly.graph_objects as go

    kl = np.asarray(kl, dtype=np.float64).reshape(-1)
    fig = go.Figure(go.Bar(x=np.arange(len(kl)), y=kl, marker={"color": "#4c78a8"},
                           hovertemplate="z%{x}: %{y:.3f} nats<extra></extra>"))
    fig.update_layout(height=200, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title={"text": title, "font": {"size": 12}},
                      xaxis_title="dimension", yaxis_title="KL (nats)", bargap=0.1)
    return fig


# -- maps ------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def pca_coords(_means: np.ndarray, model_key: str, dataset: str, n: int) -> np.ndarray:
    """(N, 2) PCA map of a model's (N, D) codes (explorer.pca.fit_pca)."""
    return fit_pca(_means).coords


def aligned_maps(maps: list[np.ndarray]) -> list[Alignment | None]:
    """Each map aligned to the first (None for the first itself); all must be maps of the same items."""
    return [None] + [procrustes_align(maps[0], m) for m in maps[1:]]


def map_figure(coords: np.ndarray, labels: np.ndarray, label_name, title: str, ranges: tuple | None):
    """A scatter of one model's map, one trace per label, on shared axis ranges (x0, x1, y0, y1)."""
    import plotly.graph_objects as go

    traces = []
    for g in np.unique(labels):
        idx = np.flatnonzero(labels == g)
        name = label_name(int(idx[0])) if g >= 0 else "unlabelled"
        traces.append(go.Scatter(x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=name, customdata=idx,
                                 marker={"size": 4, "opacity": 0.8},
                                 hovertemplate="item %{customdata}<extra>" + name + "</extra>"))
    fig = go.Figure(traces)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title={"text": title, "font": {"size": 12}},
                      showlegend=False)
    if ranges is not None:
        fig.update_xaxes(range=[ranges[0], ranges[1]])
        fig.update_yaxes(range=[ranges[2], ranges[3]])
    return fig


def shared_ranges(maps: list[np.ndarray], pad: float = 0.05) -> tuple[float, float, float, float]:
    points = np.concatenate(maps)
    lo, hi = points.min(0), points.max(0)
    span = np.maximum(hi - lo, 1e-9) * pad
    return float(lo[0] - span[0]), float(hi[0] + span[0]), float(lo[1] - span[1]), float(hi[1] + span[1])


# -- the loss lab's ranking ------------------------------------------------------------------------
RANKED = {"mse": "rank by MSE", "bce_variant_predicts": "rank by BCE", "ssim": "rank by SSIM",
          "latent_distance": "rank by latent distance"}


def reconstruction_ranking(result) -> dict[str, Any]:
    """Where the loss lab (explorer.analysis.losslab) ranks a model's reconstruction among the variants (1 = most similar
    to the original), its MSE and SSIM, and the whole order by MSE."""
    rows = losslab.ranking_table(result)
    recon = next(r for r in rows if r["variant"] == "reconstruction")
    out: dict[str, Any] = {"MSE of the reconstruction": float(recon["mse"]), "SSIM": float(recon["ssim"])}
    for measure, title in RANKED.items():
        if f"rank_{measure}" in recon:
            out[title] = f"{recon[f'rank_{measure}']} of {len(rows)}"
    out["order by MSE"] = " < ".join(losslab.rank(result, "mse"))
    return out
