"""The PCA map of the session's test codes, which the map page draws and the drawing pad marks."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.pca import fit_pca
from ui.app.context import Ctx
from ui.app.dataviews import DataView


@st.cache_data(show_spinner=False, max_entries=16)
def _pca(_means: np.ndarray, model_key: str, dataset: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = fit_pca(_means)
    return p.coords.astype(np.float32), p.components, p.mean


def pca_map(ctx: Ctx, view: DataView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coords, components, mean): the checkpoint's stored PCA for its own test items, else fitted here."""
    a = ctx.analysis
    if view.from_analysis and all(k in a for k in ("pca_coords", "pca_components", "pca_mean")):
        return a["pca_coords"], a["pca_components"], a["pca_mean"]
    return _pca(view.means, ctx.key, view.name, view.means.shape)  # shape: a discrete model's histograms differ


__all__ = ["pca_map"]
