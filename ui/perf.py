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
