"""Reconstruct for a model whose code is a grid of codebook indices (VQ-VAE, FSQ, VQModel): the reconstruction,
the per-pixel NLL and PSNR, and why there is no IWAE bound or posterior sample (the posterior is one-hot)."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer.analysis.teacher import psnr
from ui.app.context import Ctx
from ui.pages.reconstruct.watched_ui import CallBudget, watched_score_ui
from ui.shared.widgets import heat_rgb, image_ui


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
    m[2].metric("PSNR", f"{psnr(image, torch.from_numpy(np.asarray(r.recon))):.2f} dB",
                help="of the reconstruction against the image, both in [0, 1]")
    st.caption(f"Likelihood: {ctx.model.likelihood_description()}. The NLL is computed on {r.scored_on}.")
    st.info("No IWAE bound and no posterior samples: the posterior of a discrete code is one-hot (every draw is the "
            "nearest code), so all importance weights are equal and the IWAE bound is the ELBO, whose KL is the "
            "constant cells x log K under a uniform prior (van den Oord et al. 2017). Reconstruction NLL and PSNR "
            "are what compares discrete and Gaussian codes on one footing.")
