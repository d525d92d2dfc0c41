"""The pages as registered with st.navigation, by URL path, so that any module can send the user to a page
(st.switch_page needs the registered st.Page of a page defined by a callable) without importing pages/."""

from __future__ import annotations

import streamlit as st

_REGISTERED: dict[str, st.Page] = {}


def register_pages(pages: dict[str, st.Page]) -> None:
    """Remember this run's pages by URL path (ui/main.py calls it before st.navigation(...).run())."""
    _REGISTERED.update(pages)


def switch_to(url_path: str, query_params: dict[str, str] | None = None) -> None:
    """Open the page registered under `url_path` (e.g. "walk"), with `query_params` in its URL (a link's state,
    e.g. ui/shared/walk_url.dimension_link); st.switch_page stops this run."""
    st.switch_page(_REGISTERED[url_path], query_params=query_params)


__all__ = ["register_pages", "switch_to"]
