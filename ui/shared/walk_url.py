"""The latent walk's state in the page URL (st.query_params), so that a copied link shows the same image.

    ?model=conv-mnist5k&start=item:3&axes=dims&n=8&v=0.5,-1.2,0,0,0,0,0,0
    ?model=conv-mnist5k&start=item:3&axes=attr&dirs=3>8,3>5&n=2&v=0.8,0
    ?model=conv-celeba&axes=attr&dirs=Smiling,Eyeglasses&n=2&v=1,0
    ?model=cvae-mnist5k&start=draw:7:1&axes=dims&n=8&v=...&class=4

model: the checkpoint folder's name (picked in the sidebar when the link is opened); start: "prior",
"draw:<seed>:<temperature>" or "item:<test index>" (uploads and map points are this session's own and are
not shared); axes: "dims" (latent dimensions by KL), "pca" (principal directions) or "attr" (attribute
directions), n of them; dirs (attr only): the directions, "a>b" from class index a to class index b (all
from one class), or attribute names (with minus without); v: the slider values in slider order; class: a
conditional model's class the walk decodes under. A link is applied once per session and link; a value that cannot be read is ignored
and one outside the slider range is clamped, each with a message, and the page keeps working.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from explorer.latent import COLLAPSE_THRESHOLD, dimension_axes
from ui.app.links import APPLIED, link_query

AXES = {"dims": "latent dimensions (by KL)", "pca": "principal directions", "attr": "attribute directions"}
KIND_TOKEN = {"dims": "dims", "pca": "pca", "attribute": "attr"}  # explorer.latent.Axes.kind -> link token
PENDING = "_walk_url_values"  # slider values from the link, set once the axes are known


def apply_url(limit: float, max_count: int, n_items: int) -> list[str]:
    """Before the walk's widgets: set their state from a link not applied yet; returns messages for the page.
    limit: the sliders' range (-limit, limit); max_count: the most sliders; n_items: test items of the data set."""
    q = link_query()
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
    elif q.get("axes"):
        notes.append(f"The link's axes {q['axes']!r} are not ones this page knows; it keeps the current axes.")
    if q.get("dirs") and q.get("axes") == "attr":
        notes += _apply_directions(q["dirs"].split(","))
    if q.get("class"):
        try:
            st.session_state["walk_class"] = int(q["class"])  # checked against the model's classes by the picker
        except ValueError:
            notes.append(f"The link's class {q['class']!r} is not a class index; it is ignored.")
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


def _apply_directions(tokens: list[str]) -> list[str]:
    """Set the direction pickers from a link's dirs: "a>b" class pairs or attribute names. The walk panel
    checks them against the data set (unknown classes or attributes are left out with a message there)."""
    tokens = [t.strip() for t in tokens if t.strip()]
    pairs = [t.split(">") for t in tokens]
    if tokens and all(len(p) == 2 and p[0].strip().isdigit() and p[1].strip().isdigit() for p in pairs):
        starts = [int(p[0]) for p in pairs]
        st.session_state["walk_dir_kind"] = "classes"
        st.session_state["walk_dir_from"] = starts[0]
        st.session_state["walk_dir_to"] = [int(p[1]) for p in pairs if int(p[0]) == starts[0]]
        if len(set(starts)) > 1:
            return [f"The link's directions start from several classes ({', '.join(tokens)}); the walk takes "
                    f"those from class {starts[0]}."]
        return []
    if any(">" in t for t in tokens):
        return [f"The link's directions {', '.join(tokens)} mix class pairs and attributes; they are ignored."]
    st.session_state["walk_dir_kind"] = "attributes"
    st.session_state["walk_dir_attrs"] = tokens
    return []


def directions_token() -> str | None:
    """The attribute directions picked on the walk as a link's dirs ("3>8,3>5" or "Smiling,Eyeglasses")."""
    if st.session_state.get("walk_dir_kind") == "classes":
        a = st.session_state.get("walk_dir_from")
        return ",".join(f"{int(a)}>{int(b)}" for b in st.session_state.get("walk_dir_to") or []) or None
    if st.session_state.get("walk_dir_kind") == "attributes":
        return ",".join(st.session_state.get("walk_dir_attrs") or []) or None
    return None


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


def write_url(model_name: str, axes_kind: str, values: np.ndarray, condition: int | None = None) -> None:
    """Put the walk's state in the URL (only the entries that changed, so the browser's history stays short).
    axes_kind: explorer.latent.Axes.kind; condition: the class a conditional model's walk decodes under."""
    want = {"model": model_name, "axes": KIND_TOKEN.get(axes_kind, "pca"), "n": str(len(values)),
            "v": ",".join(f"{float(x):.4g}" for x in values)}
    optional = {"start": start_token(), "dirs": directions_token() if axes_kind == "attribute" else None,
                "class": None if condition is None else str(int(condition))}
    for k, v in optional.items():
        if v:
            want[k] = v
        elif k in st.query_params:
            del st.query_params[k]
    for k, v in want.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    st.session_state[APPLIED] = link_query()  # our own writes are not a link to apply


def dimension_link(model_name: str, kl_per_dim: np.ndarray, latent_shape: tuple[int, ...], dim: int,
                   value: float = 2.0, max_count: int = 32) -> dict[str, str]:
    """The walk link (query parameters) that opens `model_name`'s walk on latent dimension `dim` set to `value`
    (the others at 0), starting on test item 0: the sliders in the walk's own order (explorer.latent
    .dimension_axes by KL, collapsed ones hidden unless `dim` is one of them)."""
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    collapsed = kl[dim] < COLLAPSE_THRESHOLD
    axes = dimension_axes(kl, latent_shape, include_collapsed=bool(collapsed))
    order = [int(np.argmax(v)) for v in axes.vectors]
    slot = order.index(int(dim))
    n = min(max_count, max(slot + 1, min(8, len(order))))
    values = np.zeros(n)
    values[slot] = value
    return {"model": model_name, "start": "item:0", "axes": "dims", "n": str(n),
            "v": ",".join(f"{x:g}" for x in values)}
