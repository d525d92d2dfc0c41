"""Loss lab (the per-pixel problem of Doersch's VAE tutorial, 2016): per-pixel losses rank a one-pixel shift below
a blur or a blank image; a learned similarity (a VAE/GAN discriminator's features) answers the same question
with a learned metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.analysis import losslab
from explorer.cache import array_digest
from explorer.models.registry import family_capabilities
from ui.app.catalogue import folder_stamp, list_models, load_model, read_config
from ui.app.context import Ctx, require_ctx
from ui.services import inference
from ui.services.lazy import torch_side
from ui.shared.watched_decode import KeptResults, refused_ui, watched_ui
from ui.shared.widgets import example_ui, heat_rgb, image_ui, usable_uploads

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


_VARIANTS = KeptResults(16)  # finished variant sets (all sessions): a 512 px set is 5 images and 5 codes


def variants_work(model, image: np.ndarray, shift: tuple[int, int], sigma: float, background: np.ndarray):
    """work(on_progress, token, job) for ui.services.watched: the reconstruction of image (C, H, W) (a watched
    encode, then decode), the variants made from it, and their posterior means (a watched encode each; the
    original's is the reconstruction's). Returns (variants, means); each model call reports its blocks and
    stops at the next one when the session's token is cancelled."""
    def work(on_progress, token, job):
        calls = torch_side().calls
        device = model.device
        steps = 2 + len(losslab.VARIANTS)  # the reconstruction's encode and decode, then one encode a variant

        def encode(x: np.ndarray, stage: str) -> torch.Tensor:
            job.stage = stage
            batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(device)
            return calls.watched_encode(model, batch, on_progress, token)  # (1, *latent_shape)

        with torch.inference_mode():
            code = encode(image, f"reconstruction: encode, 1 of {steps}")
            job.stage = f"reconstruction: decode, 2 of {steps}"
            recon = calls.watched_decode(model, code, on_progress, token)[0].float().cpu().numpy()
            variants = losslab.make_variants(image.astype(np.float64), recon, shift, sigma, background)
            means = {"original": code.flatten(1)[0].float().cpu().numpy()}
            for i, name in enumerate(n for n in variants if n != "original"):
                means[name] = encode(variants[name], f"encoding the {TITLES[name]} image, {3 + i} of {steps}"
                                     ).flatten(1)[0].float().cpu().numpy()
        return variants, means
    return work


def watched_variants(ctx: Ctx, image: torch.Tensor, shift: tuple[int, int],
                     sigma: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """(variants, posterior means) of one image as a watched call with a bar and Cancel (a Stable-Diffusion-sized
    model takes seconds a call); kept per model, image and settings. None when cancelled or refused (the page
    says which)."""
    x = image.numpy()
    request = (ctx.key, np.shape(x), array_digest(x), shift, float(sigma))
    got = _VARIANTS.get(request)
    if got is not None:
        return got
    if refused_ui(ctx.model, tuple(x.shape[-2:]), st):
        return None
    background = ctx.background().astype(np.float64)
    got = watched_ui(request, "loss lab", variants_work(ctx.model, x, shift, sigma, background), st.empty())
    if got is not None:
        _VARIANTS.put(request, got)
    return got


def compute(ctx: Ctx, image: torch.Tensor, shift: tuple[int, int], sigma: float, eps: float, similarity=None,
            similarity_key: str = "") -> tuple[dict[str, np.ndarray], losslab.LossLabResult] | None:
    """Variants of the image and their scores; posterior means of every variant for the latent distance, and
    the `similarity` model's features of every variant for the learned similarity (when given). None when the
    model calls were cancelled or refused."""
    got = watched_variants(ctx, image, shift, sigma)
    if got is None:
        return None
    variants, means = got
    features = None
    if similarity is not None:
        stacked = np.stack([v.astype(np.float32) for v in variants.values()])  # (5, C, H, W)
        features = dict(zip(variants, _features(similarity, similarity_key, stacked)))  # name -> (F,)
    return variants, losslab.score_variants(variants, eps, means, features)


def page() -> None:
    ctx = require_ctx()
    st.title("Loss lab")
    st.caption("The per-pixel problem of Doersch's VAE tutorial (2016): is a one-pixel shift closer to the original "
               "than a blurred or blank image? "
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
    computed = compute(ctx, image, (dy * amount, dx * amount), sigma, eps, similarity, source)
    if computed is None:
        return
    variants, result = computed

    st.subheader(f"Variants of {described}")
    cols = st.columns(len(variants))
    for col, (name, v) in zip(cols, variants.items()):
        s = result.score(name)
        image_ui(col, torch.from_numpy(v), TITLES[name])
        # no discriminator for this image shape: a dash, and the Learned similarity section below says why
        learned = "–" if np.isnan(s.learned_similarity) else f"{s.learned_similarity:.3g}"
        col.caption(f"MSE {s.mse:.4f}  \nBCE v→o {s.bce_variant_predicts:.1f}  \nBCE o→v {s.bce_original_predicts:.1f}  \n"
                    f"SSIM {s.ssim:.3f}  \nlatent {s.latent_distance:.3f}  \nlearned {learned}")

    st.subheader("Per-pixel losses")
    st.caption(f"BCE clamps probabilities to [ε, 1 − ε] with ε = {eps:.0e}. 'v→o': the variant as the prediction of "
               "the original (how a decoder is scored); 'o→v': the original as the prediction of the variant (BCE "
               "is not symmetric). Each row shares one colour scale, 0 (dark) to its maximum.")
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
