"""VAE Latent Explorer: a Streamlit dashboard for the checkpoints of this project.

    streamlit run app.py
    streamlit run app.py -- --models runs/ --cache-dir /tmp/vae-cache

This file only builds the shared sidebar and the navigation; every page is a module in ui/pages/.
"""

from __future__ import annotations

import streamlit as st

from ui.config import app_config
from ui.perf import settle
from ui.sidebar import sidebar_ui

PAGES = [
    ("ui/pages/reconstruct.py", "Reconstruct", ":material/image:"),
    ("ui/pages/walk.py", "Latent walk", ":material/tune:"),
    ("ui/pages/map.py", "Latent map", ":material/scatter_plot:"),
    ("ui/pages/losslab.py", "Loss lab", ":material/science:"),
]
CAPTIONS = ("ui/pages/captions.py", "Captions", ":material/chat:")


def main() -> None:
    st.set_page_config(page_title="VAE Latent Explorer", page_icon=":material/blur_on:", layout="wide")
    import torch

    # One intra-op thread by default: each session runs in its own thread, and a batch-of-one decode on a
    # small shared CPU is 20-40x slower when two OpenMP threads contend with everything else (measured).
    threads = app_config().threads or 1
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    ctx = sidebar_ui()
    st.session_state["_ctx"] = ctx
    entries = PAGES + ([CAPTIONS] if ctx is not None and ctx.has_captions else [])
    pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(entries)]
    settle("imports")  # torch, explorer and the first model are loaded by now
    st.navigation(pages).run()


main()
