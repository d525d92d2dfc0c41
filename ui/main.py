"""VAE Latent Explorer: a Streamlit dashboard for the checkpoints of this project.

    streamlit run app.py
    streamlit run app.py -- --models runs/ --cache-dir /tmp/vae-cache
    vae-explorer -- --models runs/          # the installed console script (ui/app/launch.py)

This module builds the shared sidebar and the navigation, and it is the only module that imports ui/pages/: each
page is a `page()` function registered under its URL path. Streamlit runs a main script that calls main(): app.py in
a checkout, ui/entry/streamlit_app.py for the console script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui.app import warmup
from ui.app.catalogue import torch_loaded
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.app.navigation import register_pages
from ui.app.pagestyle import page_style_ui
from ui.app.perf import preload_chart_module
from ui.app.sidebar import sidebar_ui


TAB_ICON = Path(__file__).resolve().parent / "app" / "icon.png"


# Pages load on first visit: four of them import torch, which must not hold up the first paint (warmup.start loads it
# in the background once the first page is out).
def reconstruct_page() -> None:
    from ui.pages.reconstruct.page import page  # lazy: a page loads on its first visit

    page()


def walk_page() -> None:
    from ui.pages.walk.page import page  # lazy: a page loads on its first visit (it imports torch)

    page()


def map_page() -> None:
    from ui.pages.map.page import page  # lazy: a page loads on its first visit (it imports torch)

    page()


def losslab_page() -> None:
    from ui.pages.losslab.page import page  # lazy: a page loads on its first visit (it imports torch)

    page()


def compare_page() -> None:
    from ui.pages.compare.page import page  # lazy: a page loads on its first visit

    page()


def factors_page() -> None:
    from ui.pages.factors.page import page  # lazy: a page loads on its first visit (it imports torch)

    page()


def captions_page() -> None:
    from ui.pages.captions.page import page  # lazy: a page loads on its first visit (it imports torch)

    page()


# (page function, title, icon, URL path): the URL paths are the file names pages had as scripts, so links keep working
PAGES: list[tuple[Callable[[], None], str, str, str]] = [
    (reconstruct_page, "Reconstruct", ":material/image:", "reconstruct"),
    (walk_page, "Latent walk", ":material/tune:", "walk"),
    (map_page, "Latent map", ":material/scatter_plot:", "map"),
    (losslab_page, "Loss lab", ":material/science:", "losslab"),
    (compare_page, "Compare", ":material/compare:", "compare"),
    (factors_page, "Factors", ":material/grid_view:", "factors"),
]
CAPTIONS = (captions_page, "Captions", ":material/chat:", "captions")


def wants_captions(ctx: Ctx | None) -> bool:
    """Offer the Captions page for families with a caption decoder (a config without a vocabulary has none,
    which spares a fresh server the model imports on its first run)."""
    if ctx is None:
        return False
    if not torch_loaded() and not any(k.startswith("vocab") for k in ctx.model_config):
        return False
    return ctx.has_captions


def main() -> None:
    # the tab icon is a file shipped here: a Material icon name makes every page load fetch it from another host
    st.set_page_config(page_title="VAE Latent Explorer", page_icon=str(TAB_ICON), layout="wide")
    page_style_ui()
    # One intra-op thread by default: each session runs in its own thread, and a batch-of-one decode on a
    # small shared CPU is 20-40x slower when two OpenMP threads contend with everything else (measured).
    threads = app_config().threads or 1
    warmup.ensure_threads(threads)
    ctx = sidebar_ui()
    st.session_state["_ctx"] = ctx
    entries = PAGES + ([CAPTIONS] if wants_captions(ctx) else [])
    pages = [st.Page(fn, title=title, icon=icon, url_path=url, default=i == 0)
             for i, (fn, title, icon, url) in enumerate(entries)]
    register_pages({url: page for (_, _, _, url), page in zip(entries, pages)})
    st.navigation(pages).run()
    preload_chart_module()
    warmup.start(threads)  # once per process, after the first page is out: torch & co. load in the background
