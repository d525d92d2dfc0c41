"""The latent walk's state in the page URL (st.query_params), so that a copied link shows the same image.

    ?model=conv-mnist5k&start=item:3&axes=dims&n=8&v=0.5,-1.2,0,0,0,0,0,0

model: the checkpoint folder's name (picked in the sidebar when the link is opened); start: "prior",
"draw:<seed>:<temperature>" or "item:<test index>" (uploads and map points are this session's own and are
not shared); axes: "dims" (latent dimensions by KL) or "pca" (principal directions), n of them; v: the slider
values in slider order. A link is applied once per session and link; a value that cannot be read is ignored
and one outside the slider range is clamped, each with a message, and the page keeps working.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

AXES = {"dims": "latent dimensions (by KL)", "pca": "principal directions"}
APPLIED = "_walk_url_applied"  # the link (query string) this session has applied
PENDING = "_walk_url_values"  # slider values from the link, set once the axes are known


def _query() -> dict[str, str]:
    return {k: st.query_params.get(k) for k in ("model", "start", "axes", "n", "v") if st.query_params.get(k)}


def wanted_model() -> str | None:
    """The model a link names, the first time this session sees that link (for the sidebar's picker)."""
    q = _query()
    if not q.get("model") or st.session_state.get(APPLIED) == q:
        return None
    return q["model"]


def apply_url(limit: float, max_count: int, n_items: int) -> list[str]:
    """Before the walk's widgets: set their state from a link not applied yet; returns messages for the page.
    limit: the sliders' range (-limit, limit); max_count: the most sliders; n_items: test items of the data set."""
    q = _query()
    if not q or st.session_state.get(APPLIED) == q:
        return []
    st.session_state[APPLIED] = q
    notes: list[str] = []
    start = q.get("start", "")
    try:
        if start == "prior":
            st.session_state["walk_start"] = "prior mean"
        elif start.startswith("draw:"):
            _, seed, temp = start.split(":")
            st.session_state["walk_start"] = "random prior draw"
            st.session_state["walk_seed"] = int(seed)
            st.session_state["walk_temp"] = min(2.0, max(0.0, float(temp)))
        elif start.startswith("item:"):
            st.session_state["walk_start"] = "data set example"
            index = int(start.split(":", 1)[1])
            if not 0 <= index < max(1, n_items):
                notes.append(f"The link's test item {index} is not one of the {n_items} here; it starts at item 0.")
                index = 0
            st.session_state["walk_example"] = index
        elif start:
            notes.append(f"The link's start {start!r} is not one this page knows; it starts at the prior mean.")
    except ValueError:
        notes.append(f"The link's start {start!r} could not be read; it starts at the prior mean.")
    if q.get("axes") in AXES:
        st.session_state["walk_axes"] = AXES[q["axes"]]
    if q.get("n"):
        try:
            st.session_state["walk_count"] = min(max_count, max(1, int(q["n"])))
        except ValueError:
            notes.append(f"The link's slider count {q['n']!r} is not a number; it is ignored.")
    if q.get("v"):
        values, bad = [], []
        for part in q["v"].split(","):
            try:
                x = float(part)
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                bad.append(part)
                x = 0.0
            values.append(x)
        arr = np.asarray(values, dtype=np.float64)
        out = np.abs(arr) > limit
        if bad:
            notes.append(f"The link's slider values {', '.join(map(repr, bad))} are not numbers; those sliders start at 0.")
        if out.any():
            notes.append(f"The link's slider values {', '.join(f'{x:g}' for x in arr[out])} are outside "
                         f"-{limit:g} to {limit:g}; they were clamped to the range.")
        st.session_state[PENDING] = np.clip(arr, -limit, limit)
    return notes


def pending_values(keys: list[str]) -> None:
    """Once the slider keys are known: put the link's values into them (missing ones stay as they are)."""
    values = st.session_state.pop(PENDING, None)
    if values is None:
        return
    for k, v in zip(keys, values):
        st.session_state[k] = float(v)


def start_token() -> str | None:
    """The current start as a link token, or None for a start that cannot be shared (upload, map point)."""
    kind = st.session_state.get("walk_start")
    if kind == "prior mean":
        return "prior"
    if kind == "random prior draw":
        return f"draw:{int(st.session_state.get('walk_seed', 0))}:{float(st.session_state.get('walk_temp', 1.0)):g}"
    if kind == "data set example":
        return f"item:{int(st.session_state.get('walk_example', 0))}"
    return None


def write_url(model_name: str, axes_kind: str, values: np.ndarray) -> None:
    """Put the walk's state in the URL (only the entries that changed, so the browser's history stays short)."""
    want = {"model": model_name, "axes": "dims" if axes_kind == "dims" else "pca", "n": str(len(values)),
            "v": ",".join(f"{float(x):.4g}" for x in values)}
    token = start_token()
    if token:
        want["start"] = token
    elif "start" in st.query_params:
        del st.query_params["start"]
    for k, v in want.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    st.session_state[APPLIED] = _query()  # our own writes are not a link to apply
