"""The vector walk panel: sliders move a latent code and the decoded image follows; traversal grid, interpolation, GIFs.

Axes: latent dimensions, principal directions, or attribute directions ("3 → 8", "Smiling"). A conditional
model (cvae) gets a class picker (the walk decodes under it, in the page too), a style × class grid of the
walk's code and class-conditional samples."""

from __future__ import annotations

import streamlit as st

from explorer.images import display_scale, make_grid, to_gif, to_uint8
from explorer.latent import interpolation
from ui.app.context import Ctx
from ui.pages.walk import latent_files
from ui.pages.walk.registry import register_walk_panel
from ui.services import inference
from ui.shared.conditioning import class_label, class_picker_ui, class_samples_ui, style_class_ui
from ui.shared.walk_panel import KEEP, SLIDER_RANGE, axes_ui, axis_name, reset_sliders, start_ui, walk_panel
from ui.shared.walk_url import apply_url, start_token
from ui.shared.widgets import encode_one, usable_uploads


def _choices(ctx: Ctx) -> dict[str, "object"]:
    """Images that can be ends of an interpolation: a few test items and this session's uploads."""
    out = {}
    view = ctx.data()
    if view.has_images:
        for i in range(min(50, len(view.images))):
            out[f"test item {i} ({view.label_name(i)})"] = view.image(i)
    for up in usable_uploads(ctx):
        out[f"upload {up.name}"] = up.tensor
    return out


def interpolation_ui(ctx: Ctx, condition: int | None = None) -> None:
    st.subheader("Interpolation between two images")
    choices = _choices(ctx)
    if len(choices) < 2:
        st.info("Two images are needed: this data set's test items or uploads.")
        return
    names = list(choices)
    c = st.columns([2, 2, 1, 1])
    a = c[0].selectbox("From", names, index=0, key="interp_a", **KEEP)
    b = c[1].selectbox("To", names, index=min(1, len(names) - 1), key="interp_b", **KEEP)
    steps = int(c[2].number_input("Steps", 3, 24, value=10, key="interp_steps", **KEEP))
    spherical = c[3].radio("Path", ["linear", "spherical"], key="interp_path", **KEEP) == "spherical"
    z0, z1 = encode_one(ctx, choices[a]), encode_one(ctx, choices[b])
    path = interpolation(z0, z1, steps, spherical)
    frames = inference.decode_codes(ctx.model, path, condition=condition)
    strip = make_grid(frames, nrow=steps)
    st.image(to_uint8(strip, display_scale(*strip.shape[-2:], 900)), output_format="PNG",
             caption=f"{a} → {b}, {'spherical' if spherical else 'linear'} path between {ctx.model.code_name}s")
    st.download_button("Strip (GIF)", data=lambda: to_gif(frames, scale=display_scale(*frames.shape[-2:], 196)),
                       file_name="interpolation.gif", mime="image/gif", on_click="ignore", key="interp_gif")
    latent_files.path_download_ui(ctx, path, "Interpolation", "interp_latents")


def walk_class_ui(ctx: Ctx) -> int | None:
    """A conditional model's class for the walk (default: the sidebar's); None for any other model."""
    k = ctx.condition_classes
    if not k:
        return None
    asked = st.session_state.get("walk_class")
    if asked is not None and asked not in range(k):
        st.warning(f"Class {asked} is not one of this model's {k} classes; the walk decodes under "
                   f"class {class_label(ctx.class_names, ctx.condition or 0)}.")
    return class_picker_ui(ctx, "Decode under class", "walk_class", default=ctx.condition or 0,
                           help="The same code drawn as another class: the code keeps the style, the class "
                                "says which digit (or item) it is.")


@register_walk_panel("vector")
def vector_walk(ctx: Ctx) -> None:
    """Sliders over the code's dimensions, principal or attribute directions; grid, class picker, interpolation."""
    view = ctx.data()
    latent_files.upload_ui(ctx)
    for note in apply_url(SLIDER_RANGE, min(32, ctx.latent_size), len(view.images) if view.has_images else 0):
        st.warning(note)
    start, described = start_ui(ctx)
    condition = walk_class_ui(ctx)
    axes = axes_ui(ctx)
    c = st.columns([1, 1, 2])
    grid = c[0].toggle("Traversal grid", key="walk_grid", value=False, **KEEP)
    gif_axis = 0
    if len(axes):
        names = [axis_name(axes, i) for i in range(len(axes))]
        gif_axis = names.index(c[2].selectbox("GIF walks along", names, key="walk_gif_axis"))
    if c[1].button("Reset sliders", key="walk_reset"):
        reset_sliders(ctx, axes)
    under = "" if condition is None else f", decoded under class {class_label(ctx.class_names, condition)}"
    st.caption(f"Start: {described}{under}. Sliders are offsets from the start. The page's address holds the walk: copy it to "
               "share this image" + ("." if start_token() else " (this start is this session's own: the link starts at the prior mean)."))
    def extra(c: Ctx, code) -> None:  # in the walk's fragment, with the released code
        latent_files.code_download_ui(c, code, axes)
        if condition is not None:
            style_class_ui(c, code)
    walk_panel(ctx, start, axes, grid=grid, gif_axis=gif_axis, share=True, condition=condition, extra=extra)
    if condition is not None:
        st.divider()
        class_samples_ui(ctx, prefix="walk")
    st.divider()
    interpolation_ui(ctx, condition)
