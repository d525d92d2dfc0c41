"""The map of a discrete model: each test item is placed by its pooled code histogram (the share of its cells that
chose each code, every level's histogram side by side), not by a code vector; the indices come from the same
background count as the codebook panel's (ui.shared.codebook_usage)."""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

from explorer.analysis.codebook import pooled_histograms
from ui.app.context import Ctx
from ui.app.dataviews import DataView
from ui.shared.codebook_usage import dataset_indices

NOTE = ("each point is an item's pooled code histogram (the share of its cells that chose each code): this model's "
        "code is a grid of codebook indices, so the map places images by which codes they use")


def histogram_view(ctx: Ctx, view: DataView) -> DataView | None:
    """The view with its `means` replaced by each item's pooled code histograms (N, sum of K over levels), or None
    while the items are being encoded to indices (a progress bar shows) or when they cannot be."""
    if not view.has_images:
        st.info(f"The images of {view.name} are not available here, so there are no code histograms to map.")
        return None
    indices = dataset_indices(ctx, view.images, f"{view.name} ({len(view.images)} test items)", "map")
    if indices is None:
        return None
    levels = ctx.model.code_levels()
    hist = np.concatenate([pooled_histograms(i, lv.codebook_size) for i, lv in zip(indices, levels)], axis=1)
    return dataclasses.replace(view, means=hist, from_analysis=False)
