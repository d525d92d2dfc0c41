"""VAE Latent Explorer: a Streamlit dashboard for the checkpoints of this project.

    streamlit run app.py
    streamlit run app.py -- --models runs/ --cache-dir /tmp/vae-cache
    vae-explorer -- --models runs/          # the installed console script (ui/launch.py)

This module only builds the shared sidebar and the navigation; every page is a script in ui/pages/. Streamlit runs a
main script that calls main(): app.py in a checkout, ui/entry/streamlit_app.py for the console script.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import warmup
from ui.config import app_config
from ui.pagestyle import page_style_ui
from ui.perf import preload_chart_module
from ui.sidebar import sidebar_ui
from ui.catalogue import torch_loaded
from ui.context import Ctx

# absolute paths: st.Page resolves relative ones against the main script's folder, which differs between app.py in a
# checkout and the installed package's ui/entry/streamlit_app.py
PAGE_DIR = Path(__file__).resolve().parent / "pages"
PAGES = [
    (PAGE_DIR / "reconstruct.py", "Reconstruct", ":material/image:"),
    (PAGE_DIR / "walk.py", "Latent walk", ":material/tune:"),
    (PAGE_DIR / "map.py", "Latent map", ":material/scatter_plot:"),
    (PAGE_DIR / "losslab.py", "Loss lab", ":material/science:"),
    (PAGE_DIR / "compare.py", "Compare", ":material/compare:"),
]
CAPTIONS = (PAGE_DIR / "captions.py", "Captions", ":material/chat:")


def wants_captions(ctx: Ctx | None) -> bool:
    """Offer the Captions page for families with a caption decoder (a config without a vocabulary has none,
    which spares a fresh server the model imports on its first run)."""
    if ctx is None:
        return False
    if not torch_loaded() and not any(k.startswith("vocab") for k in ctx.model_config):
        return False
    return ctx.has_captions


def main() -> None:
    st.set_page_config(page_title="VAE Latent Explorer", page_icon=":material/blur_on:", layout="wide")
    page_style_ui()
    # One intra-op thread by default: each session runs in its own thread, and a batch-of-one decode on a
    # small shared CPU is 20-40x slower when two OpenMP threads contend with everything else (measured).
    threads = app_config().threads or 1
    warmup.ensure_threads(threads)
    ctx = sidebar_ui()
    st.session_state["_ctx"] = ctx
    entries = PAGES + ([CAPTIONS] if wants_captions(ctx) else [])
    pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(entries)]
    st.navigation(pages).run()
    preload_chart_module()
    warmup.start(threads)  # once per process, after the first page is out: torch & co. load in the background
