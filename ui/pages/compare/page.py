"""Compare: two to four models that share an image shape, side by side.

The same image (an upload or a test item) reconstructed by each, the same prior seed decoded by each (each model
draws its own code size from its own prior), their metrics and KL per dimension, their PCA maps of the same test
items aligned to the first by Procrustes analysis, and where the loss lab ranks each model's reconstruction.
A conditional model (cvae) reads the image under a class (a test item's own label, else one picked here).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
import streamlit as st

from explorer.analysis import losslab
from explorer.images import display_scale, to_uint8
from ui.app.catalogue import list_models
from ui.app.context import Ctx, get_ctx
from ui.app.dataviews import EMBEDDED_DATASETS, dataset_available
from ui.pages.compare import heavy
from ui.pages.compare.view import (
    MAX_MODELS,
    METRIC_COLUMNS,
    aligned_maps,
    evaluated_datasets,
    kl_figure,
    map_figure,
    metrics_table,
    model_ctx,
    own_options,
    pca_coords,
    reconstruction_ranking,
    scored_metrics,
    shape_refusals,
    shape_text,
    shared_ranges,
    stored_metrics,
)
from ui.services import inference
from ui.shared.conditioning import class_label, class_picker_ui, score_under
from ui.shared.widgets import convert_upload, image_ui, score_image, upload_images_ui

IWAE_CHOICES = [0, 10, 50, 100]


def pick_models_ui() -> list[Ctx]:
    """The model picker; returns a context per model that can be compared (refusals and load failures shown)."""
    entries = [e for e in list_models() if not e.error]
    by_folder = {e.folder: e for e in entries}
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    current = get_ctx()
    if "cmp_models" not in st.session_state:
        st.session_state["cmp_models"] = [current.entry.folder] if current and current.entry.folder in by_folder else []
    st.session_state["cmp_models"] = [f for f in st.session_state["cmp_models"] if f in by_folder]
    folders = st.multiselect(
        f"Models to compare (2 to {MAX_MODELS}, sharing an image shape)", list(by_folder), key="cmp_models",
        max_selections=MAX_MODELS,
        format_func=lambda f: by_folder[f].name + (f" [{by_folder[f].folder}]" if counts[by_folder[f].name] > 1 else ""),
        help="Any checkpoint of the picker, models trained elsewhere included. The first one sets the image shape "
             "and is the reference the other maps are aligned to.")
    picked = [by_folder[f] for f in folders]
    if not picked:
        return []
    device = current.device if current is not None else "auto"
    own = [d for d in ((e.dataset or "") for e in picked) if d]
    evaluated = evaluated_datasets(picked)  # the evaluate command's sets, as the sidebar offers them
    # after the models' own data, the sidebar's pick: models trained elsewhere have none of their own (an SD VAE
    # compared on the sidebar's photographs, not on digits)
    sidebar = [current.dataset] if current is not None and current.dataset else []
    choices = list(dict.fromkeys(own + sidebar + list(evaluated) + list(EMBEDDED_DATASETS)))
    if st.session_state.get("cmp_dataset") not in choices:
        st.session_state["cmp_dataset"] = choices[0]
    dataset = st.selectbox("Test items from", choices, key="cmp_dataset",
                           format_func=lambda d: d if d in own or d not in evaluated else f"{d} (evaluated)",
                           help="Every model reconstructs, scores and maps the same test items of this data set "
                                "(converted to the shared image shape).")
    problem = dataset_available(dataset, own_options(picked, dataset))
    if problem:
        st.error(f"{dataset} is not available here ({problem}); pick another data set.")
        return []
    loaded: list[Ctx] = []
    for entry in picked:
        try:
            ctx = model_ctx(entry, device, dataset)
            _ = ctx.shape
        except Exception as exc:  # noqa: BLE001  (a broken checkpoint must not take the page down)
            st.error(f"{entry.name} could not be loaded: {exc}")
            continue
        loaded.append(ctx)
    if not loaded:
        return []
    kept, refused = shape_refusals([c.shape for c in loaded], [c.entry.name for c in loaded])
    for message in refused:
        st.error(message)
    return [loaded[i] for i in kept]


# -- the same image --------------------------------------------------------------------------------
def pick_image_ui(ctxs: list[Ctx]) -> tuple[str, list[np.ndarray], int | None] | None:
    """The image every model reads: (description, the image as each model sees it (C, H, W), its label or None).
    Uploads go through each model's own preparation (explorer.images via ui/widgets.convert_upload)."""
    source = st.radio("Image", ["Pick from the data set", "Upload an image"], horizontal=True, key="cmp_source")
    if source == "Upload an image":
        upload_images_ui(ctxs[0].limits, "cmp_files")
        stored = st.session_state.get("_uploads", [])
        if not stored:
            st.info("Upload an image, or pick a test item instead.")
            return None
        # every file is checked for every model up front (as Reconstruct does), so a file added later is named
        # with its problem at once, not only when it is picked
        usable: dict[str, list[np.ndarray]] = {}
        for name, data in stored:
            converted = [convert_upload(ctx, name, data) for ctx in ctxs]
            bad = next((up for up in converted if not up.ok), None)
            if bad is not None:
                st.error(f"{name}: {bad.error}")
            else:
                usable[name] = [up.tensor.numpy() for up in converted]
        if not usable:
            st.info("None of the uploads can be compared: upload another image, or pick a test item instead.")
            return None
        names = list(usable)
        if st.session_state.get("cmp_upload") not in names:
            st.session_state["cmp_upload"] = names[0]
        name = st.selectbox("Upload", names, key="cmp_upload") if len(names) > 1 else names[0]
        return f"upload {name}", usable[name], None
    views = [ctx.data_items() for ctx in ctxs]  # items only: encoding them waits for the sections that need it
    if not views[0].has_images:
        st.info(f"The images of {views[0].name} are not available here.")
        return None
    n = min(len(v.images) for v in views)
    index = int(st.number_input(f"Test item (0 to {n - 1})", 0, n - 1, value=0, step=1, key="cmp_item"))
    view = views[0]
    label = int(view.labels[index]) if len(view.labels) > index and view.labels[index] >= 0 else None
    return f"test item {index} of {view.name} ({view.label_name(index)})", [v.images[index] for v in views], label


def read_as(ctx: Ctx, label: int | None, where) -> int | None:
    """The class a conditional model reads the image under (its own label when it has one), None for others."""
    k = ctx.condition_classes
    if not k:
        return None
    own = label is not None and 0 <= label < k
    return class_picker_ui(ctx, "Read it as class", f"cmp_class:{ctx.key}", default=label if own else 0, where=where,
                           help="A conditional model encodes and reconstructs the image given a class: "
                                + ("its own label by default." if own else "class 0 by default."))


def reconstructions_ui(ctxs: list[Ctx], described: str, images: list[np.ndarray], label: int | None
                       ) -> list[dict] | None:
    """Each model's reconstruction and ELBO of the image, in columns; returns each one's results for the loss lab
    (None: big models not asked to yet, or a call cancelled)."""
    import torch

    st.subheader(f"The same image: {described}")
    seconds, detail = heavy.per_model(ctxs, heavy.SCORE_CALLS)
    if not heavy.asked_ui("Reconstructing the image with every model", "Reconstruct it",
                          ("recon", described, *(c.key for c in ctxs)), seconds, detail):
        return None
    watched = seconds > heavy.AUTO_RUN_S  # big models: a bar per decoder block and a Cancel button each
    cols = st.columns(len(ctxs))
    out = []
    for col, ctx, image in zip(cols, ctxs, images):
        col.markdown(f"**{ctx.entry.name}**")
        condition = read_as(ctx, label, col)
        if condition is not None:
            r = score_under(ctx.model, ctx.key, image, 0, 0, 1, condition)
        elif watched:
            r = heavy.watched_score(ctx, np.asarray(image, dtype=np.float32), col.empty())
            if r is None:
                return None
        else:
            r = score_image(ctx.model, ctx.key, image, 0, 0, 1)
        given = "" if condition is None else f", class {class_label(ctx.class_names, condition)}"
        inner = col.columns(2)
        image_ui(inner[0], torch.from_numpy(np.asarray(image, dtype=np.float32)), "as the model sees it", target=112)
        image_ui(inner[1], r.recon, f"reconstruction by {ctx.entry.name}{given}", target=112)
        col.metric("ELBO", f"{r.elbo:.2f} nats", help="one posterior draw, on the image's scoring form")
        col.caption(f"reconstruction NLL {r.nll:.2f}, KL {r.kl:.2f} nats; {ctx.model.code_name} decoded")
        out.append({"image": np.asarray(image, dtype=np.float64), "recon": r.recon, "condition": condition})
    return out


# -- the same prior draw ---------------------------------------------------------------------------
def prior_ui(ctxs: list[Ctx]) -> None:
    st.subheader("The same prior draw")
    c = st.columns(3)
    seed = int(c[0].number_input("Seed", 0, 2**31 - 1, value=0, key="cmp_seed"))
    n = int(c[1].slider("Samples", 1, 8, 6, key="cmp_n"))
    conditional = [ctx for ctx in ctxs if ctx.condition_classes]
    label = class_picker_ui(conditional[0], "Class (conditional models)", "cmp_prior_class", where=c[2]) if conditional else None
    seconds, detail = heavy.per_model(ctxs, n)
    if not heavy.asked_ui(f"Decoding {n} prior draws with every model", "Decode them",
                          ("prior", n, seed, *(c.key for c in ctxs)), seconds, detail):
        return
    for ctx in ctxs:
        given = label if ctx.condition_classes and label is not None and label < ctx.condition_classes else None
        if seconds > heavy.AUTO_RUN_S and given is None:  # big models: one watched decode a draw
            images = heavy.watched_draws(ctx, n, seed, st.empty)
            if images is None:
                return
        else:
            images = inference.sample_images(ctx.model, n, seed, condition=given)
        st.image([_px(im) for im in images], output_format="PNG",
                 caption=[f"{ctx.entry.name} #{i + 1}" for i in range(len(images))])
    sizes = ", ".join(f"{ctx.entry.name}: {ctx.latent_size}" for ctx in ctxs)
    st.caption(f"Each row: z ~ N(0, I) of that model's own code size ({sizes}), "
               f"drawn with one generator seeded {seed}, decoded by the model"
               + (f"; conditional models under class {label}." if label is not None else ".")
               + "".join(f" {ctx.entry.name} has a discrete code: its row draws every cell's index uniformly from "
                         "its codebook (it has no learned prior), so it does not look like the data."
                         for ctx in ctxs if ctx.code_kind == "discrete"))


def _px(image) -> np.ndarray:
    return to_uint8(image, display_scale(*image.shape[-2:], 72))


# -- metrics ---------------------------------------------------------------------------------------
def metrics_ui(ctxs: list[Ctx]) -> None:
    st.subheader("Metrics")
    c = st.columns([3, 2, 2])
    here = c[0].toggle("Score every model here", value=False, key="cmp_score_here",
                       help="On: every model is scored here on the same test items. Off: each checkpoint's stored "
                            "figures for this data set where it has them (metrics.json or the evaluate command's), "
                            "else scored here.")
    n_items = int(c[1].select_slider("Test items scored here", [50, 100, 200, 500], value=100, key="cmp_score_n"))
    iwae_k = int(c[2].select_slider("IWAE samples k (scored here)", IWAE_CHOICES, value=10, key="cmp_score_k"))
    stored = [None if here else stored_metrics(ctx) for ctx in ctxs]
    to_score = [ctx for ctx, s in zip(ctxs, stored) if s is None]
    seconds, detail = heavy.per_model(to_score, n_items * (iwae_k + 2))  # per item: an encode, the ELBO's decode, k
    if to_score and not heavy.asked_ui(f"Scoring {n_items} test items at k = {iwae_k}", "Score them",
                                       ("metrics", n_items, iwae_k, *(c.key for c in to_score)), seconds,
                                       f"{detail}; `vae-evaluate FOLDER --dataset {ctxs[0].dataset}` scores a model "
                                       "once and the page then reads its figures"):
        return
    found = [s if s is not None else scored_metrics(ctx, n_items, iwae_k) for ctx, s in zip(ctxs, stored)]
    table = metrics_table([c.entry.name for c in ctxs], [str(c.config.get("family", c.entry.family)) for c in ctxs],
                          [c.latent_size for c in ctxs], found)
    formats = {title: "{:.0f}" if title == "active units" else "{:.2f}"
               for title in table if title in METRIC_COLUMNS.values()}
    # an HTML table, not a data grid: its cells wrap, so the "figures from" sentences are never cut at the column edge
    st.table(pd.DataFrame(table).style.format(formats, na_rep="–"), hide_index=True)
    st.caption("Bernoulli models are scored in nats on one fixed binarisation of the test items, Gaussian ones on a "
               "fixed dequantisation (the evaluate command's protocol). Stored figures and figures scored here may "
               "use different items and k: the last column says which.")
    cols = st.columns(len(ctxs))
    for col, ctx, m in zip(cols, ctxs, found):
        kl = getattr(m, "kl_per_dim", None)
        if kl is None:
            col.caption(f"{ctx.entry.name}: no KL per dimension.")
            continue
        active = int((np.asarray(kl) > 0.01).sum())
        col.plotly_chart(kl_figure(kl, f"{ctx.entry.name}: KL per dimension ({active} above 0.01)"),
                         key=f"cmp_kl:{ctx.key}", config={"displaylogo": False})


# -- maps ------------------------------------------------------------------------------------------
def maps_ui(ctxs: list[Ctx]) -> None:
    st.subheader("Maps of the same test items, aligned")
    views = [ctx.data() for ctx in ctxs]
    same = len({len(v.means) for v in views}) == 1 and len({v.name for v in views}) == 1 and len(views[0].means) > 1
    maps = [pca_coords(v.means, ctx.key, v.name, len(v.means)) for ctx, v in zip(ctxs, views)]
    alignments = aligned_maps(maps) if same else [None] * len(maps)
    shown = [maps[0]] + [a.aligned if a is not None else m for a, m in zip(alignments[1:], maps[1:])]
    ranges = shared_ranges(shown) if same else None
    cols = st.columns(len(ctxs))
    for col, ctx, view, coords, a in zip(cols, ctxs, views, shown, alignments):
        title = f"{ctx.entry.name}: PCA" + ("" if a is None else f", aligned (disparity {a.disparity:.3f})")
        col.plotly_chart(map_figure(coords, view.labels, view.label_name, title, ranges), key=f"cmp_map:{ctx.key}",
                         config={"displaylogo": False})
    if same:
        codes = ", ".join(dict.fromkeys(ctx.model.code_name for ctx in ctxs))
        st.caption(f"2-D PCA of each model's codes ({codes}) of the same {len(views[0].means)} test "
                   f"items of {views[0].name}; every map after the first is rotated, reflected, scaled and shifted onto "
                   f"{ctxs[0].entry.name}'s by Procrustes analysis. Disparity: the share of the first map's spread the "
                   "aligned map does not reproduce (0: the same arrangement, 1: none in common).")
    else:
        st.caption("The models encode different items here, so their maps are shown unaligned.")


# -- the loss lab ----------------------------------------------------------------------------------
def losslab_ui(ctxs: list[Ctx], recons: list[dict], described: str) -> None:
    st.subheader("The loss lab's ranking of each reconstruction")
    encodes = len(losslab.VARIANTS) + 1  # the original and its variants, encoded by each model
    seconds, detail = heavy.per_model(ctxs, encodes)
    if not heavy.asked_ui("Ranking each reconstruction in the loss lab", "Rank them",
                          ("losslab", described, *(c.key for c in ctxs)), seconds,
                          f"{detail}; {encodes} encodes a model"):
        return
    rows: dict[str, list] = {"model": []}
    for ctx, r in zip(ctxs, recons):
        background = ctx.background().astype(np.float64)
        variants = losslab.make_variants(r["image"], r["recon"], (-1, 0), 1.0, background)
        stacked = np.stack([v.astype(np.float32) for v in variants.values()])  # (5, C, H, W)
        about = encodes * heavy.decode_seconds(ctx)
        with st.spinner(f"{ctx.entry.name}: encoding the {encodes} images (about {heavy.duration(about)})",
                        show_time=True) if about > 1 else nullcontext():
            codes = inference.encode_codes(ctx.model, stacked, condition=r["condition"], batch_size=1)
        means = dict(zip(variants, codes))
        result = losslab.score_variants(variants, losslab.DEFAULT_EPS, means)
        rows["model"].append(ctx.entry.name)
        for k, v in reconstruction_ranking(result).items():
            rows.setdefault(k, []).append(v)
    st.table(pd.DataFrame(rows), hide_index=True)  # wraps its long orderings rather than cutting them
    st.caption(f"For {described}: each model's reconstruction ranked among the loss lab's variants (shifted up by one "
               "pixel, the reconstruction, a blank, a Gaussian blur of sigma 1) by how close each is to the original "
               "(1 = closest); the latent distance is measured in that model's own code space.")


def page() -> None:
    st.title("Compare")
    st.caption("Two to four models that share an image shape, side by side: the same image, the same prior seed, "
               "their metrics, their maps and the loss lab's verdict on their reconstructions.")
    ctxs = pick_models_ui()
    if len(ctxs) < 2:
        st.info("Pick at least two models that share an image shape.")
        return
    st.caption(" · ".join(f"{c.entry.name}: {c.config.get('family', c.entry.family)}, {c.latent_size}-dimensional code"
                          for c in ctxs) + f"; images {shape_text(ctxs[0].shape)}.")
    chosen = pick_image_ui(ctxs)
    recons = None
    if chosen is not None:
        described, images, label = chosen
        recons = reconstructions_ui(ctxs, described, images, label)
    prior_ui(ctxs)
    metrics_ui(ctxs)
    maps_ui(ctxs)
    if recons is not None:
        losslab_ui(ctxs, recons, described)
