"""Conditional models on the pages: class pickers, scores under a chosen class, and rows of class samples.

Only for models that declare `capabilities().condition_classes > 0` (the cvae); every model call goes through
ui/services/inference.py with `condition=`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from explorer.images import display_scale, make_grid, to_uint8
from ui.app.catalogue import class_label
from ui.app.context import Ctx
from ui.services import inference
from ui.services.lazy import torch_side

if TYPE_CHECKING:
    from explorer.analysis.scoring import ImageScore


def class_picker_ui(ctx: Ctx, label: str, key: str, default: int = 0, where: Any = st, help: str | None = None) -> int:
    """A picker of the model's classes (default `default`), returning the class index."""
    k = ctx.condition_classes
    default = default if 0 <= default < k else 0
    if st.session_state.get(key) not in range(k):
        st.session_state[key] = default
    return int(where.selectbox(label, list(range(k)), key=key, help=help,
                               format_func=lambda c: class_label(ctx.class_names, c)))


@st.cache_data(show_spinner=False, max_entries=128)
def score_under(_model, model_key: str, image: np.ndarray, iwae_k: int, seed: int, n_samples: int,
                condition: int) -> ImageScore:
    """explorer/analysis/scoring.py's scores of one (C, H, W) image given class `condition`, cached per (model, image, class)."""
    return inference.score_image(_model, image, iwae_k, seed, n_samples, condition=condition)


def _px(image: np.ndarray, size: int = 84) -> np.ndarray:
    return to_uint8(image, display_scale(*image.shape[-2:], size))


def written_as_ui(ctx: Ctx, code: np.ndarray, source: int, key: str) -> None:
    """The image's code (encoded under its class `source`) decoded under a chosen class, then under each class."""
    k = ctx.condition_classes
    target = class_picker_ui(ctx, "Write it as class", f"rec_as:{key}", default=(source + 1) % k if k > 1 else 0,
                             help="The code keeps the style (what the class does not say); the decoder draws it "
                                  "as this class.")
    written = inference.decode_codes(ctx.model, code, condition=target)[0].numpy()
    c = st.columns([1, 5])
    c[0].image(_px(written), caption=f"written as {class_label(ctx.class_names, target)}", output_format="PNG")
    row = inference.style_class_grid(ctx.model, code[None], list(range(k))).numpy()
    c[1].image([_px(im, 56) for im in row], caption=[class_label(ctx.class_names, i) for i in range(k)],
               output_format="PNG")
    st.caption(f"The code of this image read as class {class_label(ctx.class_names, source)}, decoded under "
               "another class (left) and under every class (right).")


def style_class_ui(ctx: Ctx, code: np.ndarray, prefix: str = "walk") -> None:
    """Style x class: `code` (D,) and a few seeded prior draws (the rows: styles), each decoded under every
    class (the columns), by ui/inference.style_class_grid."""
    prior_draw = torch_side().latent.prior_draw

    k = ctx.condition_classes
    st.markdown("**Style × class**")
    c = st.columns([2, 2, 4])
    rows = int(c[0].number_input("Styles (rows)", 1, 8, value=4, key=f"{prefix}_styles"))
    seed = int(c[1].number_input("Seed of the other styles", 0, 2**31 - 1, value=0, key=f"{prefix}_styles_seed"))
    draws = [prior_draw(ctx.latent_shape, seed + i) for i in range(rows - 1)]  # (D,) each: z ~ N(0, I)
    codes = np.stack([np.asarray(code, dtype=np.float64).reshape(-1), *draws])  # (rows, D)
    images = inference.style_class_grid(ctx.model, codes, list(range(k)))  # (rows * k, C, H, W), row = style
    tile = make_grid(images, nrow=k)
    classes = ", ".join(class_label(ctx.class_names, i) for i in range(k))
    others = f", rows 2-{rows} prior draws (seeds {seed}-{seed + rows - 2})" if rows > 1 else ""
    st.image(to_uint8(tile, display_scale(*tile.shape[-2:], 640)), output_format="PNG",
             caption=f"Style × class: row 1 is the walk's {ctx.model.code_name}{others}; the columns decode each "
                     f"row under the classes {classes}.")


def class_samples_ui(ctx: Ctx, prefix: str = "rec") -> None:
    """A row of prior samples of one class, with its own class picker, count and seed (widget keys start with
    `prefix`: one set per page)."""
    st.markdown("**Samples of a class**")
    c = st.columns([2, 2, 2, 2])
    label = class_picker_ui(ctx, "Class", f"{prefix}_sample_class", default=ctx.condition or 0, where=c[0])
    n = int(c[1].slider("Samples", 1, 16, 8, key=f"{prefix}_sample_n"))
    seed = int(c[2].number_input("Seed", 0, 2**31 - 1, value=0, key=f"{prefix}_sample_seed"))
    temperature = float(c[3].slider("Temperature", 0.1, 1.5, 1.0, 0.1, key=f"{prefix}_sample_temp"))
    images = inference.sample_images(ctx.model, n, seed, temperature, condition=label)
    st.image([_px(im, 56) for im in images], output_format="PNG",
             caption=[f"{class_label(ctx.class_names, label)} #{i + 1}" for i in range(len(images))])
    st.caption(f"z ~ N(0, {temperature:g}² I) decoded under class {class_label(ctx.class_names, label)}: the same "
               "seed gives the same styles for every class.")
