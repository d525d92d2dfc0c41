"""Loss lab (seed 001, appendix A): per-pixel losses rank a one-pixel shift below a blur or a blank image; a
learned similarity (a VAE/GAN discriminator's features) answers the same question with a learned metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.analysis import losslab
from explorer.models.registry import family_capabilities
from ui.app.catalogue import folder_stamp, list_models, load_model, read_config
from ui.app.context import Ctx, require_ctx
from ui.services import inference
from ui.shared.widgets import encode_one, example_ui, heat_rgb, image_ui, reconstruct_one, usable_uploads

DIRECTIONS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
EPS_CHOICES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
TITLES = {"original": "original", "shifted": "shifted", "reconstruction": "reconstruction", "blank": "blank",
          "blurred": "Gaussian blur"}


def choose_image(ctx: Ctx) -> tuple[torch.Tensor, str] | None:
    ups = usable_uploads(ctx)
    sources = ["data set example"] + (["upload"] if ups else [])
    src = st.radio("Image", sources, horizontal=True, key="lab_source", persist_state="session")
    if src == "upload":
        names = [u.name for u in ups]
        name = st.selectbox("Upload", names, key="lab_upload")
        up = ups[names.index(name)] if name in names else ups[0]
        return up.tensor, f"upload {up.name}"
    picked = example_ui(ctx, "lab_example", "Test item")
    if picked is None:
        return None
    index, image = picked
    return image, f"test item {index} ({ctx.data().label_name(index)})"


SHIPPED_DISCRIMINATOR = "vaegan-mnist5k"  # preferred when the chosen model has no discriminator of its own
LPIPS_NOTE = ("A perceptual metric with pretrained weights (LPIPS) is not offered: its weights cannot be had offline "
              "here, and the app downloads nothing. The learned similarity above is the discriminator of a VAE/GAN "
              "trained on this project's data, not an ImageNet network.")


def similarity_source(ctx: Ctx):
    """(model, name) whose `similarity_features` give the learned similarity: the chosen model when it has a
    discriminator, else a VAE/GAN in the model folders for the same image shape (vaegan-mnist5k first);
    (None, why) when there is none."""
    try:
        own = family_capabilities(ctx.config.get("family", ""), ctx.model_config).learned_similarity
    except (TypeError, ValueError):  # a model trained elsewhere (ONNX pair, diffusers) has no family config
        own = False
    if own:
        return ctx.base_model, ctx.entry.name
    candidates = []
    for entry in list_models():
        if entry.error or entry.family != "vaegan":
            continue
        try:
            config = read_config(entry.folder, folder_stamp(Path(entry.folder)))["config"]
            shape = tuple(int(s) for s in config["config"]["input_shape"])
            usable = family_capabilities(entry.family, config["config"]).learned_similarity
        except (OSError, KeyError, TypeError, ValueError):
            continue
        if usable and shape == tuple(ctx.shape):
            candidates.append(entry)
    if not candidates:
        shape = "x".join(map(str, ctx.shape))
        return None, (f"no VAE/GAN discriminator for {shape} images is in the model folders (the shipped "
                      f"{SHIPPED_DISCRIMINATOR} takes 1x28x28)")
    entry = sorted(candidates, key=lambda e: e.name != SHIPPED_DISCRIMINATOR)[0]
    try:
        return load_model(entry.folder, ctx.device, folder_stamp(Path(entry.folder))), entry.name
    except Exception as exc:  # noqa: BLE001  (a broken checkpoint must not take the page down)
        return None, f"{entry.name} could not be loaded: {exc}"


@st.cache_data(show_spinner=False, max_entries=64)
def _features(_model, model_key: str, images: np.ndarray) -> np.ndarray:
    return inference.similarity_features(_model, images)


def compute(ctx: Ctx, image: torch.Tensor, shift: tuple[int, int], sigma: float, eps: float, similarity=None,
            similarity_key: str = "") -> tuple[dict[str, np.ndarray], losslab.LossLabResult]:
    """Variants of the image and their scores; posterior means of every variant for the latent distance, and
    the `similarity` model's features of every variant for the learned similarity (when given)."""
    x = image.numpy().astype(np.float64)
    recon = reconstruct_one(ctx, image)
    background = ctx.background().astype(np.float64)
    variants = losslab.make_variants(x, recon, shift, sigma, background)
    means = {name: encode_one(ctx, torch.from_numpy(v.astype(np.float32))) for name, v in variants.items()}
    features = None
    if similarity is not None:
        stacked = np.stack([v.astype(np.float32) for v in variants.values()])  # (5, C, H, W)
        features = dict(zip(variants, _features(similarity, similarity_key, stacked)))  # name -> (F,)
    return variants, losslab.score_variants(variants, eps, means, features)


def page() -> None:
    ctx = require_ctx()
    st.title("Loss lab")
    st.caption("Seed 001, appendix A: is a one-pixel shift closer to the original than a blurred or blank image? "
               "Every number below is computed for the image at hand.")
    if not ctx.model.capabilities().posterior:
        st.info(f"{ctx.entry.name} encodes to a plain latent with no posterior (an AutoencoderTiny or DC-AE: "
                "Capabilities.posterior is False), so there is no ELBO, KL or IWAE bound for the loss lab to compare. "
                "Reconstruct shows what it makes of an image.")
        return
    chosen = choose_image(ctx)
    if chosen is None:
        return
    image, described = chosen
    c = st.columns(4)
    direction = c[0].selectbox("Shift direction", list(DIRECTIONS), key="lab_dir", persist_state="session")
    amount = int(c[1].slider("Shift (pixels)", 1, 4, 1, key="lab_amount", persist_state="session"))
    sigma = float(c[2].slider("Blur sigma (pixels)", 0.3, 3.0, 1.0, 0.1, key="lab_sigma", persist_state="session"))
    eps = float(c[3].select_slider("BCE clamp ε", EPS_CHOICES, value=1e-4, key="lab_eps", persist_state="session",
                                   format_func=lambda e: f"{e:.0e}"))
    dy, dx = DIRECTIONS[direction]
    similarity, source = similarity_source(ctx)
    variants, result = compute(ctx, image, (dy * amount, dx * amount), sigma, eps, similarity, source)

    st.subheader(f"Variants of {described}")
    cols = st.columns(len(variants))
    for col, (name, v) in zip(cols, variants.items()):
        s = result.score(name)
        image_ui(col, torch.from_numpy(v), TITLES[name])
        col.caption(f"MSE {s.mse:.4f}  \nBCE v→o {s.bce_variant_predicts:.1f}  \nBCE o→v {s.bce_original_predicts:.1f}  \n"
                    f"SSIM {s.ssim:.3f}  \nlatent {s.latent_distance:.3f}  \nlearned {s.learned_similarity:.3g}")

    st.subheader("Per-pixel losses")
    st.caption(f"BCE clamps probabilities to [ε, 1 − ε] with ε = {eps:.0e}. 'v→o': the variant as the prediction of "
               "the original (how a decoder is scored); 'o→v': the original as the prediction of the variant (seed "
               "001's order). Each row shares one colour scale, 0 (dark) to its maximum.")
    for measure in ("mse", "bce_variant_predicts", "bce_original_predicts"):
        maps = {n: m[measure] for n, m in result.maps.items()}
        vmax = max(float(m.max()) for m in maps.values()) or 1.0
        st.markdown(f"**{losslab.MEASURES[measure][0]}** (0 to {vmax:.3g} per pixel)")
        row = st.columns(len(maps))
        for col, (name, m) in zip(row, maps.items()):
            col.image(heat_rgb(m, vmax), caption=f"{TITLES[name]}: {m.sum():.3g}", output_format="PNG")

    st.subheader("Ranking (1 = most similar to the original)")
    rows = losslab.ranking_table(result)
    measures = [m for m in losslab.MEASURES if m in rows[0]]
    table: dict[str, list] = {"variant": [r["variant"] for r in rows]}
    for m in measures:
        table[m] = [float(r[m]) for r in rows]
        table[f"rank by {m}"] = [int(r[f"rank_{m}"]) for r in rows]
    config = {m: st.column_config.NumberColumn(losslab.MEASURES[m][0], format="%.4g") for m in measures}
    st.dataframe(table, hide_index=True, width="stretch", column_config=config, key="lab_table")
    st.markdown(losslab.explanation(result))

    st.subheader("Learned similarity")
    if similarity is None:
        st.caption(f"No learned similarity for this image: {source}.")
    else:
        st.caption(f"The distance between the variants' layer-l features in the discriminator of {source} (a VAE/GAN, "
                   "Larsen et al. 2016): the space that model scores its reconstructions in.")
        st.markdown(losslab.learned_ranking(result))
    st.caption(LPIPS_NOTE)
