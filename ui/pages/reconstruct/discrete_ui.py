"""Reconstruct for a model whose code is a grid of codebook indices (VQ-VAE, FSQ, VQModel): the reconstruction,
the per-pixel NLL and PSNR, and why there is no IWAE bound or posterior sample (the posterior is one-hot)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import streamlit as st

from ui.app.context import Ctx
from ui.pages.reconstruct.watched_ui import CallBudget, watched_score_ui
from ui.shared.widgets import heat_rgb, image_ui

if TYPE_CHECKING:  # the Reconstruct page is the first paint, which must not wait for torch
    import torch


def grid_description(ctx: Ctx) -> str:
    """'a 7 x 7 grid of 512 codes', one part per level of a discrete model's code."""
    return " and ".join(f"a {lv.grid[0]} x {lv.grid[1]} grid of {lv.codebook_size} codes"
                        + ("" if len(ctx.model.code_levels()) == 1 else f" ({lv.name})")
                        for lv in ctx.model.code_levels())


def discrete_scores_ui(ctx: Ctx, image: torch.Tensor, seed: int, budget: CallBudget | None, key: str) -> None:
    """One image (C, H, W) in [0, 1]: as the model sees it, its reconstruction, the -log p(x | z) map, the NLL per
    pixel value and the PSNR; scored as a watched call with no IWAE samples."""
    scored = watched_score_ui(ctx, image.numpy(), 0, seed, 1, budget, key)
    if scored is None:
        return
    r, _ = scored
    cols = st.columns(3)
    image_ui(cols[0], image, "as the model sees it")
    image_ui(cols[1], r.recon, "reconstruction (decoded from its code indices)")
    lo, hi = min(0.0, float(r.nll_map.min())), float(r.nll_map.max())
    cols[2].image(heat_rgb(r.nll_map, hi if hi > lo else lo + 1.0, vmin=lo), output_format="PNG",
                  caption=f"−log p(x | z) per pixel at the quantised code; sums to {r.nll_map_total:.2f} nats")
    m = st.columns(3)
    m[0].metric("reconstruction NLL", f"{r.nll:.2f} nats", help="-log p(x | z) at the quantised code")
    m[1].metric("NLL per pixel value", f"{r.nll / r.dims:.4f} nats", help=f"over the {r.dims} values of the image")
    mse = float(r.squared_error.sum()) / r.dims  # the score's own (x - reconstruction)^2, over every value
    m[2].metric("PSNR", "∞ dB" if mse == 0 else f"{10 * math.log10(1 / mse):.2f} dB",
                help="10 log10(1 / MSE) of the reconstruction against the image, both in [0, 1]")
    st.caption(f"Likelihood: {ctx.model.likelihood_description()}. The NLL is computed on {r.scored_on}.")
    st.info("No IWAE bound and no posterior samples: the posterior of a discrete code is one-hot (every draw is the "
            "nearest code), so all importance weights are equal and the IWAE bound is the ELBO, whose KL is the "
            "constant cells x log K under a uniform prior (van den Oord et al. 2017). Reconstruction NLL and PSNR "
            "are what compares discrete and Gaussian codes on one footing.")
