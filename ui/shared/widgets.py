"""Widgets and cached computations that several pages share: images, uploads, examples, scores, heat maps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer.images import UPLOAD_TYPES, ImageInputError, ImageLimits, display_scale, load_image, to_uint8
from ui.services import inference
from ui.app.context import Ctx
from ui.app.dataviews import timed_code

if TYPE_CHECKING:
    import torch

    from explorer.analysis.scoring import ImageScore

INVERT_MODES = {"auto": None, "no": False, "yes": True}
MAX_FILES = 12  # uploads handled per run
MAX_SESSION_BYTES = 48 * 1024 * 1024  # uploads remembered for the other pages, per session


# -- display ---------------------------------------------------------------------------------------
def image_ui(container, image, caption: str | None = None, target: int = 140) -> None:
    """Show one (C, H, W) image in [0, 1], enlarged by pixel repetition to about `target` pixels."""
    h, w = image.shape[-2:]
    container.image(to_uint8(image, display_scale(h, w, target)), caption=caption, output_format="PNG")


def heat_rgb(values: np.ndarray, vmax: float | None = None, cmap: str = "magma", target: int = 140,
             vmin: float = 0.0) -> np.ndarray:
    """(H, W) values -> an RGB uint8 heat map (vmin dark, vmax bright), enlarged like images."""
    from matplotlib import colormaps

    v = np.asarray(values, dtype=np.float64) - vmin
    top = float((vmax if vmax is not None else np.nanmax(v) + vmin) - vmin) or 1.0
    rgb = colormaps[cmap](np.clip(v / top, 0.0, 1.0))[..., :3]
    s = display_scale(*v.shape, target)
    return np.round(rgb * 255).astype(np.uint8).repeat(s, 0).repeat(s, 1)


# -- uploads ---------------------------------------------------------------------------------------
@dataclass
class Upload:
    name: str
    ok: bool
    tensor: torch.Tensor | None = None  # (C, H, W) as the model sees it
    notes: list[str] = field(default_factory=list)
    error: str = ""
    info: str = ""


@st.cache_data(show_spinner=False, max_entries=64)
def _convert(data: bytes, shape: tuple, background: tuple, invert: bool | None, limits: ImageLimits,
             digit: bool = False, size_multiple: int = 0) -> dict:
    try:
        c = load_image(data, shape, np.asarray(background), invert, limits, digit, size_multiple)
    except ImageInputError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001  (a decoder bug must not take the session down)
        return {"ok": False, "error": f"The image could not be read ({type(exc).__name__}: {exc})."}
    info = f"{c.file_format}, {c.original_size[0]} x {c.original_size[1]}, mode {c.original_mode}"
    return {"ok": True, "tensor": c.tensor.numpy(), "notes": c.notes, "info": info}


def invert_setting() -> bool | None:
    return INVERT_MODES[st.session_state.get("invert_mode", "auto")]


def digit_model(ctx: Ctx) -> bool:
    """Grey models of MNIST-like digits (dark background): their uploads and drawings get MNIST's own
    preparation (explorer.images.prepare_digit)."""
    return ctx.shape[0] == 1 and "mnist" in (ctx.own_dataset or "").lower() and float(np.mean(ctx.background())) < 0.2


def convert_upload(ctx: Ctx, name: str, data: bytes, own_size: bool = False) -> Upload:
    """An uploaded file as the model's input; own_size: at the image's own size where the model takes it
    (Capabilities.size_multiple; Reconstruct), else at the model's input shape."""
    import torch

    bg = tuple(float(v) for v in ctx.background())
    multiple = ctx.model.capabilities().size_multiple if own_size else 0
    r = _convert(data, ctx.shape, bg, invert_setting(), ctx.limits, digit_model(ctx), multiple)
    if not r["ok"]:
        return Upload(name, False, error=r["error"])
    return Upload(name, True, torch.from_numpy(r["tensor"]), r["notes"], info=r["info"])


def remember_uploads(files: list) -> list[str]:
    """Keep the uploader's files (name, bytes) in the session so the other pages can use them; returns warnings."""
    warnings, kept, total = [], [], 0
    for f in files[:MAX_FILES]:
        data = f.getvalue()
        if total + len(data) > MAX_SESSION_BYTES:
            warnings.append(f"{f.name}: not kept for the other pages (this session's upload memory is full)")
            continue
        total += len(data)
        kept.append((f.name, data))
    if len(files) > MAX_FILES:
        warnings.append(f"only the first {MAX_FILES} of {len(files)} files are used")
    st.session_state["_uploads"] = kept
    return warnings


def upload_images_ui(limits: ImageLimits, key: str, pixels: bool = False) -> list:
    """The image uploader of Reconstruct and Compare: the accepted formats and the byte limit (and the pixel limit
    with `pixels`) in its label, the browser refusing bigger files before sending them; its files are kept for the
    other pages (remember_uploads, whose warnings it shows). Returns the uploader's files ([] when none)."""
    limit_mb = limits.max_bytes / (1024 * 1024)
    files = st.file_uploader(
        f"PNG, JPEG, WebP, BMP or GIF (first frame), up to {limit_mb:.0f} MB"
        + (f" and {limits.max_pixels:,} pixels" if pixels else ""),
        type=list(UPLOAD_TYPES), accept_multiple_files=True, key=key, max_upload_size=max(1, math.ceil(limit_mb)))
    if files:
        for w in remember_uploads(files):
            st.warning(w)
    return files or []


def session_uploads(ctx: Ctx) -> list[Upload]:
    """This session's uploads converted for the current model (usable and unusable)."""
    return [convert_upload(ctx, name, data) for name, data in st.session_state.get("_uploads", [])]


def usable_uploads(ctx: Ctx) -> list[Upload]:
    return [u for u in session_uploads(ctx) if u.ok]


# -- data set examples -----------------------------------------------------------------------------
def example_ui(ctx: Ctx, key: str, label: str = "Test item") -> tuple[int, torch.Tensor] | None:
    """Pick one test item of the chosen data set; returns (index, (C, H, W) image) or None without images."""
    view = ctx.data_items()  # no encoding: the picker shows items, the caller encodes the one picked
    if not view.has_images:
        st.info(f"The images of {view.name} are not available here.")
        return None
    n = len(view.images)
    index = int(st.number_input(f"{label} (0 to {n - 1})", 0, n - 1, value=0, step=1, key=key))
    return index, view.image(index)


# -- model calls, cached per (model, image); they run on the inference thread ----------------------------
@st.cache_data(show_spinner=False, max_entries=128)
def score_image(_model, model_key: str, image: np.ndarray, iwae_k: int, seed: int, n_samples: int) -> ImageScore:
    """Reconstruction, posterior samples, per-pixel maps and ELBO / IWAE terms of one (C, H, W) image
    (explorer/analysis/scoring.py), cached per (model key, image, settings)."""
    return inference.score_image(_model, image, iwae_k, seed, n_samples)


def encode_one(ctx: Ctx, image: torch.Tensor) -> np.ndarray:
    """Flat code (D,) of one (C, H, W) image, cached per (model, image)."""
    return _encode_one(ctx.model, ctx.key, image.numpy())


@st.cache_data(show_spinner=False, max_entries=256)
def _encode_one(_model, model_key: str, image: np.ndarray) -> np.ndarray:
    kept = timed_code(model_key, image)  # the data plan's timed encode of a data set's first item
    return kept if kept is not None else inference.encode_codes(_model, image[None])[0]


def reconstruct_one(ctx: Ctx, image: torch.Tensor) -> np.ndarray:
    """The model's own reconstruction (C, H, W) of one image, cached per (model, image)."""
    return _reconstruct_one(ctx.model, ctx.key, image.numpy())


@st.cache_data(show_spinner=False, max_entries=256)
def _reconstruct_one(_model, model_key: str, image: np.ndarray) -> np.ndarray:
    return inference.reconstruct(_model, image)
