"""App-wide CSS, sent on every rerun (a style-only st.html goes to Streamlit's event container: no space taken).

It holds the rules that keep text whole at 1280 px and wider (NOTHING_CUT), and one against a retention in Streamlit 1.67's frontend: react-aria (bundled in it) records each
element with a running CSS transition in a module-level Map and drops it on `transitionend`. An expander's
<details> that a page change removes mid-transition never gets that event, so the Map keeps it, and through its
parent links the whole page left behind: +150-210 DOM nodes and ~160 kB of JS heap per visit to Reconstruct
(its Settings expander), measured with `python -m bench.bench_soak --attribute 8`; a heap snapshot's retainer
path ends in that Map. Without transitions on expanders nothing is recorded and the page's node count stays
flat (tests/browser/test_page_memory.py). Expanders then open without their 0.2 s animation.
"""

from __future__ import annotations

import streamlit as st

NO_EXPANDER_TRANSITIONS = "details, details * { transition: none !important; }"
# Nothing cut off at 1280 px (tests/browser/test_every_page.py): a metric's label and value wrap rather than end in
# an ellipsis ("-175.15 n…" in a fifth of the page), a segmented control's options wrap onto a second line rather
# than scroll out of their column ("squared e…"), and code in a caption is set at 12 px, not 0.75 of 14 px.
NOTHING_CUT = (
    "[data-testid='stMetricValue'] { font-size: 1.75rem; }"
    "[data-testid='stMetric'] [data-testid='stMarkdownContainer'] "
    "{ white-space: normal !important; overflow: visible !important; text-overflow: clip !important;"
    " overflow-wrap: anywhere; }"
    "[data-testid='stButtonGroup'] > div { flex-wrap: wrap; overflow: visible !important; }"
    "[data-testid='stMarkdownContainer'] code, [data-testid='stCaptionContainer'] code "
    "{ font-size: max(0.75em, 12px) !important; }"
)


def page_style_ui() -> None:
    """Emit the app-wide style sheet (call on every rerun, before the page runs)."""
    st.html(f"<style>{NO_EXPANDER_TRANSITIONS}{NOTHING_CUT}</style>")
