"""App-wide CSS, sent on every rerun (a style-only st.html goes to Streamlit's event container: no space taken).

It holds one rule, against a retention in Streamlit 1.67's frontend: react-aria (bundled in it) records each
element with a running CSS transition in a module-level Map and drops it on `transitionend`. An expander's
<details> that a page change removes mid-transition never gets that event, so the Map keeps it, and through its
parent links the whole page left behind: +150-210 DOM nodes and ~160 kB of JS heap per visit to Reconstruct
(its Settings expander), measured with `python -m bench.bench_soak --attribute 8`; a heap snapshot's retainer
path ends in that Map. Without transitions on expanders nothing is recorded and the page's node count stays
flat (tests/browser/test_page_memory.py). Expanders then open without their 0.2 s animation.
"""

from __future__ import annotations

import streamlit as st

NO_EXPANDER_TRANSITIONS = "<style>details, details * { transition: none !important; }</style>"


def page_style_ui() -> None:
    """Emit the app-wide style sheet (call on every rerun, before the page runs)."""
    st.html(NO_EXPANDER_TRANSITIONS)
