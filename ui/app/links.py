"""The link a session was opened with (st.query_params): the sidebar reads the model it names before any page
runs; the walk page (ui/pages/walk/url.py) reads and writes the rest."""

from __future__ import annotations

import streamlit as st

LINK_KEYS = ("model", "start", "axes", "n", "v", "dirs", "class")
APPLIED = "_walk_url_applied"  # session-state key: the link (query string) this session has applied


def link_query() -> dict[str, str]:
    """The link's non-empty parameters."""
    return {k: st.query_params.get(k) for k in LINK_KEYS if st.query_params.get(k)}


def wanted_model() -> str | None:
    """The model a link names, the first time this session sees that link (for the sidebar's picker)."""
    q = link_query()
    if not q.get("model") or st.session_state.get(APPLIED) == q:
        return None
    return q["model"]


__all__ = ["APPLIED", "LINK_KEYS", "link_query", "wanted_model"]
