"""Reconstruct: upload images, pick test items, or draw a digit (ui/pages/reconstruct/draw.py), and see what the model makes of them.

A conditional model (cvae) is read and scored given the image's class (its own label when known, else a class
picked here), its code can be written as any other class, and a row of samples of a chosen class is shown.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from explorer.images import display_scale, to_uint8
from ui.app.context import Ctx, require_ctx
from ui.pages.reconstruct.discrete_ui import discrete_scores_ui, grid_description
from ui.pages.reconstruct.draw import can_draw, drawing_class, drawing_ui, walk_start_ui
from ui.pages.reconstruct.watched_ui import (
    CallBudget,
    budget_ui,
    code_description,
    no_posterior_ui,
    watched_score_ui,
)
from ui.services.lazy import torch_side
from ui.shared.conditioning import (
    class_label,
    class_picker_ui,
    class_samples_ui,
    score_under,
    written_as_ui,
)
from ui.shared.widgets import (
    INVERT_MODES,
    Upload,
    convert_upload,
    example_ui,
    heat_rgb,
    image_ui,
    upload_images_ui,
)

ERROR_VIEWS = ("−log p(x | z)", "squared error")  # the model's own per-pixel loss first, squared error second


def scores_ui(ctx: Ctx, image, title: str, iwae_k: int, seed: int, n_samples: int, key: str,
              label: int | None = None, budget: CallBudget | None = None) -> None:
    """One image: as the model sees it, reconstruction, posterior samples, error map, ELBO terms, percentile.
    A conditional model reads it as a class (`label` when known, else the picker's default, class 0). Other models
    are scored as a watched call (ui/pages/reconstruct/watched_ui.py): a progress bar, Cancel, and IWAE samples
    sized to `budget`."""
    import torch

    percentile_of = torch_side().evaluation.percentile_of

    model = ctx.model
    condition = None
    if ctx.condition_classes:
        own = label is not None and 0 <= label < ctx.condition_classes
        condition = class_picker_ui(ctx, "Read it as class", f"rec_class:{key}", default=label if own else 0,
                                    help="A conditional model encodes, reconstructs and scores the image given its "
                                         "class: " + ("its own label by default." if own else "class 0 by default."))
        r = score_under(model, ctx.key, image.numpy(), iwae_k, seed, n_samples, condition)
    else:
        if not model.capabilities().posterior:
            no_posterior_ui(ctx, image)
            return
        if ctx.code_kind == "discrete":
            discrete_scores_ui(ctx, image, seed, budget, key)
            return
        scored = watched_score_ui(ctx, image.numpy(), iwae_k, seed, n_samples, budget, key)
        if scored is None:
            return
        r, iwae_k = scored  # iwae_k: the samples the budget allowed
    given = "" if condition is None else f", class {class_label(ctx.class_names, condition)}"
    cols = st.columns([1, 1, 1, 2])
    image_ui(cols[0], image, "as the model sees it")
    image_ui(cols[1], r.recon, f"reconstruction ({model.code_name}{given})")
    with cols[2]:
        view = st.segmented_control("Error map", list(ERROR_VIEWS), default="−log p(x | z)", required=True, key=f"rec_err:{key}",
                                    persist_state="session") or "−log p(x | z)"
        if view == "−log p(x | z)":
            nll_map = r.nll_map
            lo, hi = min(0.0, float(nll_map.min())), float(nll_map.max())
            st.image(heat_rgb(nll_map, hi if hi > lo else lo + 1.0, vmin=lo), output_format="PNG",
                     caption=f"−log p(x | z) per pixel at z = {model.code_name}; sums to {r.nll_map_total:.2f} nats "
                             f"({lo:.2f} to {hi:.2f} per pixel)")
        else:
            vmax = float(r.squared_error.max()) or 1.0
            st.image(heat_rgb(r.squared_error, vmax), output_format="PNG",
                     caption=f"per-pixel squared error against the reconstruction, 0 to {vmax:.3f}")
    samples = torch.from_numpy(r.samples)
    with cols[3]:
        st.image([_px(s) for s in samples], caption=[f"sample {i + 1}" for i in range(len(samples))], output_format="PNG")
    st.caption(f"Posterior samples decode z ~ q(z | x) drawn with this session's seed. The −log p(x | z) map and the "
               f"scores below are computed on {r.scored_on}, as the test items were scored.")
    ref_elbo = ctx.analysis.get("score_elbo")
    ref_iwae = ctx.analysis.get("score_iwae")
    st.caption(f"Likelihood: {model.likelihood_description()}.")
    pixels = model.capabilities().pixel_likelihood  # False: the scores are of the model's features (VAE/GAN)
    space = "" if pixels else " (feature space)"
    m = st.columns(5)
    m[0].metric(f"reconstruction NLL{space}", f"{r.nll:.2f} nats", help="-log p(x | z) for one posterior draw")
    m[1].metric("KL(q || prior)", f"{r.kl:.2f} nats")
    m[2].metric(f"ELBO{space}", f"{r.elbo:.2f} nats")
    if not math.isnan(r.iwae):
        m[3].metric(f"IWAE log p(x), k={iwae_k}{space}", f"{r.iwae:.2f} nats")
    if ctx.likelihood == "gaussian" and pixels:
        bits_per_dim = torch_side().losses.bits_per_dim

        bpd = float(bits_per_dim(torch.tensor(-r.elbo), r.dims))
        m[4].metric("ELBO bits/dim", f"{bpd:.3f}")
    lines = []
    if ref_elbo is not None:
        lines.append(f"ELBO above {percentile_of(r.elbo, ref_elbo):.1f}% of the {len(ref_elbo)} test items")
    if ref_iwae is not None and not math.isnan(r.iwae) and np.isfinite(ref_iwae).any():
        lines.append(f"IWAE above {percentile_of(r.iwae, ref_iwae):.1f}% of them")
    if lines:
        st.markdown("**Where it falls:** " + "; ".join(lines) + f" (test items of {ctx.analysis_dataset}, scored the same way).")
    else:
        st.caption("This checkpoint stores no per-item test scores, so no percentile can be given.")
    if condition is not None:
        st.caption("Scores of a conditional model bound log p(x | class), given the class above.")
        written_as_ui(ctx, r.code, condition, key)


def _px(image) -> np.ndarray:
    return to_uint8(image, display_scale(*image.shape[-2:], 84))


def page() -> None:
    ctx = require_ctx()
    st.title("Reconstruct")
    declared = ctx.declared_capabilities()  # from config.json: a vector model's first paint loads no weights
    discrete = bool(declared and declared.discrete_code)
    st.caption(f"{ctx.entry.name}: input {ctx.shape[0]} x {ctx.shape[1]} x {ctx.shape[2]}, "
               f"{ctx.likelihood} likelihood, "
               f"{grid_description(ctx) if discrete else code_description(ctx.latent_shape)}.")
    with st.expander("Settings", expanded=False):
        c = st.columns(4)
        c[0].radio("Invert colours", list(INVERT_MODES), key="invert_mode", horizontal=True,
                   help="auto inverts dark-on-light drawings for a light-on-dark model (and the other way).")
        iwae_k = int(c[1].select_slider("IWAE samples k", [0, 10, 50, 100, 500, 1000], value=100, key="rec_iwae_k"))
        seed = int(c[2].number_input("Seed for posterior draws", 0, 2**31 - 1, value=0, key="rec_seed"))
        n_samples = int(c[3].slider("Posterior samples", 1, 8, 4, key="rec_samples"))
        budget = budget_ui()
    if ctx.condition_classes:
        class_samples_ui(ctx)


    sources = ["Upload images", "Pick from the data set"] + (["Draw"] if can_draw(ctx) else [])
    if st.session_state.get("rec_source") not in sources:  # e.g. "Draw", kept from a model that takes drawings
        st.session_state["rec_source"] = sources[0]
    source = st.radio("Image", sources, horizontal=True, key="rec_source")
    if source == "Draw":
        drawn = drawing_ui(ctx)
        if drawn is None:
            return
        st.subheader("Your drawing")
        walk_start_ui(ctx, drawn)
        scores_ui(ctx, drawn, "drawing", iwae_k, seed, n_samples, key="draw", label=drawing_class(ctx), budget=budget)
    elif source == "Upload images":
        files = upload_images_ui(ctx.limits, "rec_files", pixels=True)
        stored = st.session_state.get("_uploads", [])
        if not stored:
            st.info("Upload one or more images, or pick a test item instead.")
            return
        if not files:
            c1, c2 = st.columns([4, 1])
            c1.caption(f"Showing the {len(stored)} image(s) uploaded earlier in this session.")
            if c2.button("Forget them", key="rec_forget"):
                st.session_state["_uploads"] = []
                st.rerun()
        for i, (name, data) in enumerate(stored):
            up: Upload = convert_upload(ctx, name, data, own_size=True)
            st.subheader(name)
            if not up.ok:
                st.error(f"{name}: {up.error}")
                continue
            st.caption(up.info + ("; " + "; ".join(up.notes) if up.notes else ""))
            scores_ui(ctx, up.tensor, name, iwae_k, seed, n_samples, key=f"up{i}", budget=budget)
    else:
        picked = example_ui(ctx, "rec_example")
        if picked is None:
            return
        index, image = picked
        view = ctx.data_items()
        st.subheader(f"Test item {index} of {view.name} (label {view.label_name(index)})")
        label = int(view.labels[index]) if view.labels is not None and len(view.labels) > index else None
        same_classes = view.classes is not None and list(view.classes) == list(ctx.class_names or [])
        scores_ui(ctx, image, f"item {index}", iwae_k, seed, n_samples, key=f"ex{index}",
                  label=label if same_classes else None, budget=budget)
