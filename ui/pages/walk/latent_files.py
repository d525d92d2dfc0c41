"""Latent files on the walk page: download the walk's code (with its axes and link state) or a path, and upload a
latent file (explorer.latent_files) to start the walk from it.

A file saved on the walk page carries the walk's link state (ui/shared/walk_url.py): uploading it applies that state
as the link would, so the page shows the same image and the same URL. A file without one (a code saved in a notebook,
an imported .npy), or one loaded for another model or converted to another scaling (its link would encode its start
with this model), becomes the walk's start ("latent file"), with the sliders at zero. A bad file shows its message and
the page goes on as it was.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.latent import Axes
from explorer.latent_files import LatentFile, LatentFileError, LatentSpace, latent_space, latents_bytes, load_latents
from ui.app.context import Ctx
from ui.app.links import APPLIED, LINK_KEYS, link_query
from ui.shared.walk_panel import FROM_FILE
from ui.shared.walk_url import PENDING

IMPORTED = {"this model's codes": "model", "raw latents (scaling 1)": 1.0}  # what a plain array is said to hold
MIME = "application/octet-stream"


def _space(ctx: Ctx) -> LatentSpace:
    """The model's digest (the app's, 16 characters of the sha256), code shape and scaling."""
    return latent_space(ctx.model, ctx.weights_digest())


def upload_ui(ctx: Ctx, prefix: str = "walk") -> None:
    """Before the walk's widgets: a latent file uploader. A good file is applied once (the link state it carries, or
    a "latent file" start); a bad one shows why, and the walk goes on from its current start."""
    with st.expander("Load a latent file (.safetensors, .npy)"):
        up = st.file_uploader("Latent file", type=["safetensors", "npy"], key=f"{prefix}_latent_upload",
                              help="A code saved on this page or with explorer.latent_files.save_latents, or a plain "
                                   "array of this model's code shape made elsewhere.")
        c = st.columns(3)
        force = c[0].checkbox("Load for another model", key=f"{prefix}_latent_force",
                              help="Load a file made for another model anyway, where the code shapes agree.")
        policy = c[1].radio("Another scaling", ["refuse", "convert"], key=f"{prefix}_latent_scaling", horizontal=True)
        holds = c[2].selectbox("A plain array holds", list(IMPORTED), key=f"{prefix}_latent_holds")
    if up is None:
        return
    token = (up.file_id, force, policy, holds)
    if st.session_state.get(f"{prefix}_latent_applied") == token:
        return
    try:
        got = load_latents(up.getvalue(), _space(ctx), force=force, scaling_policy=policy, scaling=IMPORTED[holds],
                           name=up.name)
    except LatentFileError as exc:
        st.error(str(exc))
        return
    if tuple(got.code.shape) != tuple(ctx.latent_shape):  # a convolutional model's code of another size
        st.error(f"{up.name}: its code has shape {tuple(got.code.shape)}; this page walks codes of the model's shape "
                 f"{tuple(ctx.latent_shape)} (load it in a notebook to decode it at its own size)")
        return
    st.session_state[f"{prefix}_latent_applied"] = token
    for note in got.notes:
        st.info(f"{up.name}: {note}.")
    if len(got.codes) > 1:
        st.info(f"{up.name} holds {len(got.codes)} codes ({got.kind}); the walk starts at the first.")
    if prefix == "walk" and got.walk and not got.notes:  # a forced or converted file's link would not give its code
        _apply_link(ctx, got.walk)
    else:
        _start_at(ctx, got, up.name, prefix)


def _apply_link(ctx: Ctx, walk: dict[str, str]) -> None:
    """Put the file's walk state in the URL as a link not applied yet: walk_url.apply_url then sets the widgets."""
    for key in LINK_KEYS:
        if key in st.query_params:
            del st.query_params[key]
    for key, value in {**walk, "model": ctx.entry.name}.items():
        if key in LINK_KEYS and value:
            st.query_params[key] = value
    st.session_state.pop(APPLIED, None)


def _start_at(ctx: Ctx, got: LatentFile, name: str, prefix: str) -> None:
    """Make the file's first code the walk's start, the sliders at zero."""
    st.session_state[f"{prefix}_from_file"] = {"model_key": ctx.key, "code": got.code.reshape(-1).tolist(),
                                               "label": f"latent file {name}"}
    st.session_state[f"{prefix}_start"] = FROM_FILE
    if prefix == "walk":
        st.session_state[PENDING] = np.zeros(ctx.latent_size)
    else:
        for key in [k for k in st.session_state if str(k).startswith(f"{prefix}_axis_")]:
            st.session_state[key] = 0.0


def code_download_ui(ctx: Ctx, code: np.ndarray, axes: Axes | None = None, prefix: str = "walk") -> None:
    """A download button for the walk's code (flat (D,) or shaped), with its axes and, on the walk, its link state."""
    walk = {k: v for k, v in link_query().items() if k != "model"} if prefix == "walk" else None
    shaped, space = np.asarray(code, dtype=np.float32).reshape(ctx.latent_shape), _space(ctx)
    st.download_button(
        "Code (latent file)", on_click="ignore", mime=MIME, key=f"{prefix}_latent_download",
        data=lambda: latents_bytes(shaped, space, "code", axes=axes, walk=walk),
        file_name=f"{ctx.entry.name}-code.safetensors", help="explorer.latent_files.load_latents reads it back")


def path_download_ui(ctx: Ctx, codes: np.ndarray, what: str, key: str) -> None:
    """A download button for a path (N, D) of codes, e.g. an interpolation's frames."""
    frames, space = np.asarray(codes, dtype=np.float32).reshape(-1, *ctx.latent_shape), _space(ctx)
    st.download_button(f"{what} path (latent file)", on_click="ignore", mime=MIME, key=key,
                       data=lambda: latents_bytes(frames, space, "path"),
                       file_name=f"{ctx.entry.name}-{what.lower()}.safetensors")
