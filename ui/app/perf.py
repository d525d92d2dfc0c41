"""Keep Python's cyclic garbage collector off the interactive path.

Importing torch (and plotly, and loading models) leaves hundreds of thousands of long-lived objects in the
heap; every full collection then walks all of them, and Streamlit's reruns allocate enough to trigger such
collections often. Measured on the bare benchmark page: merely importing torch made slider moves 1.4-1.6x
slower, and `gc.freeze()` after the import made them faster than the page without torch. So after each
one-off load (imports, a model, a data set) the heap is collected once and the survivors are frozen:
long-lived objects leave the collector's view, and garbage made later is collected as usual.
"""

from __future__ import annotations

import gc
import threading

_DONE: set[str] = set()
_LOCK = threading.Lock()


def settle(reason: str, once: bool = True) -> bool:
    """Collect, then freeze what survives; with once=True only the first call for a reason does anything."""
    with _LOCK:
        if once and reason in _DONE:
            return False
        _DONE.add(reason)
        gc.collect()
        gc.freeze()
        return True


_PRELOAD = """<script>
(() => {{
  if (window.__vaeChartPreload) return;
  window.__vaeChartPreload = true;
  const load = () => {{
    const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
    if (!main) return;
    import(new URL("./{chunk}", main.src).href).catch(() => {{}});
  }};
  setTimeout(() => (window.requestIdleCallback ? requestIdleCallback(load, {{timeout: 3000}}) : load()), 1500);
}})();
</script>"""


def _chart_chunk() -> str | None:
    """File name of Streamlit's Plotly chart bundle in its static folder (None when not found)."""
    from pathlib import Path

    import streamlit

    found = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0].name if found else None


def preload_chart_module() -> None:
    """Fetch and compile the Plotly chart bundle (4.7 MB of JavaScript) while the browser is idle after the
    first page, so that the first visit to the map does not wait for it. Loads only Streamlit's own file."""
    import streamlit as st

    chunk = _chart_chunk()
    if chunk is None or st.session_state.get("_chart_preloaded"):
        return
    with st.sidebar:
        st.html(_PRELOAD.format(chunk=chunk), unsafe_allow_javascript=True, width=1)
    st.session_state["_chart_preloaded"] = True
