"""Latent walk: the panel that fits the kind of code the model declares (ui/pages/walk/registry.py)."""

from __future__ import annotations

import streamlit as st

from ui.app.context import require_ctx
from ui.pages.walk.registry import panel_for


def page() -> None:
    ctx = require_ctx()
    st.title("Latent walk")
    kind = ctx.code_kind
    panel, own = panel_for(kind)
    if not own:
        st.caption(f"This model's code is {kind}; its own walk panel is not available, so its code is walked as a "
                   "vector (one slider per dimension).")
    panel(ctx)
