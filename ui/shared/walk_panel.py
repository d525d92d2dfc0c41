"""The latent walk panel shared by the Latent walk and Captions pages: start point, axes, sliders, image.

The slider panel is an `st.fragment`: moving a slider reruns only the panel, which reads cached arrays,
builds one code and decodes one image under `torch.inference_mode`; nothing is encoded on these reruns.
Slider values are offsets from the start code, in units of each axis (prior sigma, or the spread of the
encoded means along a principal direction), so the same values always give the same image.

Where the model's decoder exports to ONNX (explorer.onnx.export, cached under the app's cache folder by the
weights' digest), the sliders are the live component's (frontend/src/live_latent): the page decodes while a slider is dragged,
and this panel hears of the values on release, so the downloads, the traversal grid and the `extra` output
(captions, label probabilities) follow the released values. The server-side sliders remain the fallback:
when the export fails, when the page has no WebAssembly, and while the page has not said yet (AppTest,
which cannot run the component, always reads "pending").
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from explorer.images import display_scale, make_grid, to_gif, to_png, to_uint8
from explorer.latent import COLLAPSE_THRESHOLD, Axes, attribute_axes, dimension_axes, principal_axes, prior_draw, traversal_codes, walk_code
from ui.app.config import MAP_LIMIT, app_config
from ui.app.context import Ctx, session_rng
from ui.app.dataviews import test_attributes
from ui.components.live import live_latent, peek_path
from ui.services import inference
from ui.services.itemserver import session_key
from ui.shared import walk_url as walkurl
from ui.shared.decoders import live_decoder
from ui.shared.widgets import encode_one, example_ui, usable_uploads

SLIDER_RANGE = 4.0
SLIDER_STEP = 0.1
TRAVERSAL_STEPS = np.linspace(-3.0, 3.0, 7)
START_KINDS = ["prior mean", "random prior draw", "data set example", "uploaded image", "map point"]
FROM_FILE = "latent file"  # a start kind offered once a latent file was loaded (ui/pages/walk/latent_files.py)
KEEP = {"persist_state": "session"}  # keep choices when the user visits another page and comes back
AXIS_KINDS = ["latent dimensions (by KL)", "principal directions", "attribute directions"]
BETWEEN = {"classes": "two classes", "attributes": "with and without an attribute"}
PREFERRED_ATTRIBUTES = ("Smiling", "Eyeglasses")  # CelebA's attributes offered first


@st.cache_data(show_spinner=False, max_entries=16)
def _pca_axes(_means: np.ndarray, model_key: str, dataset: str, k: int) -> Axes:
    return principal_axes(_means, k)


@st.cache_data(show_spinner=False, max_entries=256)
def encode_under_class(_model, model_key: str, image: np.ndarray, label: int) -> np.ndarray:
    """Flat code (D,) of one (C, H, W) image encoded by a conditional model under class `label`."""
    return inference.encode_codes(_model, image[None], condition=label)[0]


def start_ui(ctx: Ctx, prefix: str = "walk", prefer_data: bool = False) -> tuple[np.ndarray, str]:
    """Choose where the walk starts; returns (flat start code, description). prefer_data: start on a data set
    item when there is one (a spatial code's zero is rarely an image)."""
    from_map = st.session_state.get("walk_from_map")
    kinds = START_KINDS if from_map and from_map.get("model_key") == ctx.key else START_KINDS[:-1]
    from_file = st.session_state.get(f"{prefix}_from_file")  # {"model_key", "code", "label"}
    kinds = kinds + [FROM_FILE] if from_file and from_file.get("model_key") == ctx.key else kinds
    if st.session_state.get(f"{prefix}_start") not in kinds:
        # a captioning model's prior mean decodes to an empty picture with an arbitrary caption: start on a real image
        default = "data set example" if (prefer_data or ctx.has_captions) and ctx.data_items().has_images else kinds[0]
        st.session_state[f"{prefix}_start"] = "map point" if from_map and from_map.get("model_key") == ctx.key else default
    kind = st.radio("Start from", kinds, key=f"{prefix}_start", horizontal=True, **KEEP)
    if kind == "random prior draw":
        c = st.columns([2, 1, 3])
        seed_key = f"{prefix}_seed"
        if seed_key not in st.session_state:
            st.session_state[seed_key] = 0
        if c[1].button("New draw", key=f"{prefix}_new"):
            st.session_state[seed_key] = int(session_rng().integers(0, 2**31 - 1))
        seed = int(c[0].number_input("Seed", 0, 2**31 - 1, key=seed_key, step=1, **KEEP))
        st.session_state.setdefault(f"{prefix}_temp", 1.0)
        temp = float(c[2].slider("Temperature", 0.0, 2.0, key=f"{prefix}_temp", step=0.05, **KEEP))
        return prior_draw(ctx.latent_shape, seed, temp), f"prior draw, seed {seed}, temperature {temp:.2f}"
    if kind == "data set example":
        picked = example_ui(ctx, f"{prefix}_example", "Start item")
        if picked is not None:
            index, image = picked
            view = ctx.data_items()
            said = f"{ctx.model.code_name} of {view.name} test item {index} ({view.label_name(index)})"
            label = int(view.labels[index])
            if ctx.condition_classes and 0 <= label < ctx.condition_classes:
                # a conditional model reads the item as its own class: the code then holds its style alone
                code = encode_under_class(ctx.model, ctx.key, image.numpy(), label)
                return code.astype(np.float64), f"{said}, read as its own class"
            return encode_one(ctx, image).astype(np.float64), said
    elif kind == "uploaded image":
        uploads = usable_uploads(ctx)
        if not uploads:
            st.info("No usable upload in this session yet: upload images on the Reconstruct page.")
        else:
            names = [u.name for u in uploads]
            name = st.selectbox("Upload", names, key=f"{prefix}_upload")
            up = uploads[names.index(name)] if name in names else uploads[0]
            return encode_one(ctx, up.tensor).astype(np.float64), f"{ctx.model.code_name} of upload {up.name}"
    elif kind == FROM_FILE and from_file:
        return np.asarray(from_file["code"], dtype=np.float64).reshape(-1), from_file["label"]
    elif kind == "map point" and from_map:
        view = ctx.data() if from_map.get("dataset") == ctx.dataset else None
        i = int(from_map["index"])
        code = np.asarray(from_map["code"], dtype=np.float64)
        label = from_map.get("label") or (f"map point {i} of {from_map.get('dataset')}"
                                          + (f" ({view.label_name(i)})" if view is not None else ""))
        return code, label
    return np.zeros(ctx.latent_size), "prior mean (z = 0)"


@st.cache_data(show_spinner=False, max_entries=32)
def _direction_axes(_means: np.ndarray, _groups: np.ndarray, model_key: str, dataset: str, options_json: str,
                    between: str, pairs: tuple, names: tuple[str, ...] | None) -> Axes:
    """explorer.latent.attribute_axes of the data view's codes, cached per model, data set and directions."""
    return attribute_axes(_means, _groups, [tuple(p) if between == "classes" else p for p in pairs],
                          list(names) if names else None)


def direction_sources(ctx: Ctx) -> dict[str, object]:
    """What attribute directions the chosen data set allows: {"classes": (classes present, names)} when two or
    more classes are labelled, {"attributes": (table (N, A) 0/1, names)} when it carries an attribute table."""
    view = ctx.data()
    out: dict[str, object] = {}
    present = np.unique(view.labels[view.labels >= 0]) if len(view.labels) else np.zeros(0, np.int64)
    if len(present) >= 2:
        top = int(present.max()) + 1
        names = list(view.classes) if view.classes and len(view.classes) >= top else [str(i) for i in range(top)]
        out["classes"] = ([int(c) for c in present], names)
    if view.has_images:
        try:
            table = test_attributes(view.name, ctx.dataset_options, MAP_LIMIT)
        except Exception:  # noqa: BLE001  (no attribute table is no reason to stop the page)
            table = None
        if table is not None and len(table[0]) == len(view.means):
            out["attributes"] = table
    return out


def _keep_known(key: str, known: list, what: str, default: list) -> None:
    """Before a multiselect renders: drop entries of its state that this data set does not have (a link's, or
    another data set's), with a message; an empty or missing state gets `default`."""
    wanted = st.session_state.get(key)
    if wanted is None:
        st.session_state[key] = default
        return
    unknown = [w for w in wanted if w not in known]
    if unknown:
        st.warning(f"{what} {', '.join(map(str, unknown))} {'is' if len(unknown) == 1 else 'are'} not in this data set; "
                   "left out.")
        st.session_state[key] = [w for w in wanted if w in known] or default


def direction_axes_ui(ctx: Ctx, prefix: str = "walk") -> Axes | None:
    """Slider axes between mean codes of the data set's test items: "class a → class b" for labelled data,
    "with vs without" an attribute (CelebA's "Smiling", "Eyeglasses") for attributed data. None (with a
    message) when the data set has neither."""
    sources = direction_sources(ctx)
    if not sources:
        st.info(f"{ctx.data().name} has neither two labelled classes nor an attribute table: no attribute directions.")
        return None
    kinds = [k for k in BETWEEN if k in sources]
    kind_key = f"{prefix}_dir_kind"
    if st.session_state.get(kind_key) not in kinds:
        st.session_state[kind_key] = kinds[0]
    if len(kinds) > 1:
        st.radio("Directions between", kinds, key=kind_key, format_func=BETWEEN.get, horizontal=True, **KEEP)
    between = st.session_state[kind_key]
    view = ctx.data()
    c = st.columns([1, 3])
    if between == "classes":
        present, names = sources["classes"]
        from_key, to_key = f"{prefix}_dir_from", f"{prefix}_dir_to"
        if st.session_state.get(from_key) not in present:
            if from_key in st.session_state:
                st.warning(f"Class {st.session_state[from_key]} is not in this data set; the directions start at "
                           f"class {names[present[0]]}.")
            st.session_state[from_key] = present[0]
        a = int(c[0].selectbox("From class", present, key=from_key, format_func=lambda i: names[i], **KEEP))
        others = [p for p in present if p != a]
        _keep_known(to_key, others, "Class", [others[0]])
        targets = c[1].multiselect("To class (one slider each)", others, key=to_key, format_func=lambda i: names[i],
                                   **KEEP)
        pairs, groups = tuple((a, int(b)) for b in targets), view.labels
    else:
        table, names = sources["attributes"]
        attrs_key = f"{prefix}_dir_attrs"
        default = [n for n in PREFERRED_ATTRIBUTES if n in names] or list(names[:2])
        _keep_known(attrs_key, list(names), "Attribute", default)
        pairs = tuple(c[1].multiselect("Attributes (one slider each: with minus without)", list(names), key=attrs_key,
                                       **KEEP))
        groups = table
    if not pairs:
        st.info("Pick at least one direction.")
        return None
    axes = _direction_axes(view.means, groups, ctx.key, view.name, ctx.dataset_options, between, pairs,
                           tuple(names) if names else None)
    if axes.collapsed.any():
        dead = [lab for lab, col in zip(axes.labels, axes.collapsed) if col]
        st.caption(f"{', '.join(dead)}: one of the two groups is empty among these test items, so that slider does "
                   "nothing.")
    st.caption(f"Directions between group averages of the {ctx.model.code_name}s of the {len(view.means)} test items "
               f"of {view.name}. "
               "One slider unit is the whole distance between the two means: +1 carries the first group's mean "
               "to the second's.")
    return axes


def axes_ui(ctx: Ctx, prefix: str = "walk") -> Axes:
    """Choose the slider axes: KL-sorted latent dimensions, principal directions of the encoded means, or
    attribute directions between the means of two classes (or with / without an attribute)."""
    c = st.columns([2, 1, 1])
    kind = c[0].radio("Axes", AXIS_KINDS, key=f"{prefix}_axes", horizontal=True, **KEEP)
    if kind == AXIS_KINDS[2]:
        axes = direction_axes_ui(ctx, prefix)
        return axes if axes is not None else Axes(np.zeros((0, ctx.latent_size)), np.zeros(0), [], np.zeros(0, bool),
                                                  "attribute")
    limit = min(32, ctx.latent_size)
    count = int(c[1].number_input("Sliders", 1, limit, value=min(8, limit), key=f"{prefix}_count", **KEEP))
    if kind.startswith("latent"):
        kl = np.asarray(ctx.kl_per_dim(), dtype=np.float64).reshape(-1)
        show = c[2].checkbox("Show collapsed", key=f"{prefix}_collapsed", value=False, **KEEP,
                             help="Dimensions whose mean KL is below 0.01 nats carry almost no information.")
        # only the sliders shown get a vector: a one-hot row per axis, never an identity over the whole code
        axes = dimension_axes(kl, ctx.latent_shape, max_axes=count, include_collapsed=show)
        if not ctx.has_kl_per_dim():  # no stored KL: every dimension counts as informative, in the code's order
            axes.labels = [label.split(" (KL")[0] for label in axes.labels]
            st.caption("This checkpoint stores no KL per dimension, so the sliders follow the code's own order.")
        n_collapsed = int((kl < COLLAPSE_THRESHOLD).sum())
        if n_collapsed:
            st.caption(f"{n_collapsed} of {len(kl)} dimensions are collapsed (KL < 0.01 nats)"
                       + ("; they are marked ∅." if show else "; they are hidden."))
        if n_collapsed == len(kl):
            st.info("Every dimension is collapsed: showing them anyway.")
        axes.labels = [lab + (" ∅" if col else "") for lab, col in zip(axes.labels, axes.collapsed)]
        st.caption("One slider unit is one standard deviation of the prior.")
        return axes
    view = ctx.data()
    axes = _pca_axes(view.means, ctx.key, view.name, count)
    st.caption(f"Principal directions of the {len(view.means)} {ctx.model.code_name}s of {view.name}; one slider unit is the "
               "means' standard deviation along that direction.")
    return axes


def axis_ids(axes: Axes) -> list[str]:
    """Stable identities for slider keys: the dimension index, the principal component number, or the
    attribute direction's label ("3 → 8", "Smiling")."""
    if axes.kind == "dims":
        return [f"d{int(np.argmax(v))}" for v in axes.vectors]
    if axes.kind == "attribute":
        return [f"dir:{label}" for label in axes.labels]
    return [f"pc{i}" for i in range(len(axes))]


def axis_name(axes: Axes, i: int) -> str:
    """A short name of axis i for buttons and pickers: 'z3', 'PC2', or the whole '3 → 8' / 'Smiling'."""
    return axes.labels[i] if axes.kind == "attribute" else axes.labels[i].split(" ")[0]


def slider_keys(ctx: Ctx, axes: Axes, prefix: str = "walk") -> list[str]:
    return [f"{prefix}:{ctx.key}:{axes.kind}:{a}" for a in axis_ids(axes)]


def reset_sliders(ctx: Ctx, axes: Axes, prefix: str = "walk") -> None:
    for k in slider_keys(ctx, axes, prefix):
        st.session_state[k] = 0.0


LIVE_NOTE = {"wasm": "Decoding in your browser (onnxruntime-web, wasm)", "fallback": "Decoding on the server",
             "pending": "Decoding on the server (the in-browser decoder is loading)"}


def _apply_release(released, keys: list[str], prefix: str) -> bool:
    """Write a new release (values (K,)) into the slider keys; an old one, seen again, must not undo a reset."""
    if released is None or len(released) != len(keys):
        return False
    released = np.clip(np.round(np.asarray(released, dtype=np.float64), 4), -SLIDER_RANGE, SLIDER_RANGE)
    applied_key = f"_live_applied:{prefix}"
    last = st.session_state.get(applied_key)
    if last is not None and np.array_equal(last, released):
        return False
    st.session_state[applied_key] = released
    for k, v in zip(keys, released):
        st.session_state[k] = float(v)
    return True


def _peek_release(key: str, model_key: str):
    """The component's latest release from its session state, before it renders: the values it is given must
    be the released ones, or the page would paint the previous release's values over the user's."""
    state = st.session_state.get(key)
    try:
        released = state.get("released") if hasattr(state, "get") else getattr(state, "released", None)
    except Exception:  # noqa: BLE001
        return None
    if isinstance(released, dict) and released.get("model_key") == model_key:
        return released.get("values")
    return None


def _live_values(ctx: Ctx, start: np.ndarray, axes: Axes, keys: list[str], prefix: str, export,
                 hidden: bool) -> tuple[np.ndarray, str, str]:
    """Render the live component on the slider keys' values (hidden: it loads out of sight while the server panel
    holds the controls); a new release is written back to those keys. Returns (values, path, the page's reason
    for a fallback)."""
    key = f"{prefix}_live"
    values = np.array([float(st.session_state[k]) for k in keys])
    h, w = ctx.shape[-2:]
    result = live_latent(key, export.path, _live_model_key(ctx, export), start, axes.vectors, axes.scales, axes.labels,
                         values, tuple(ctx.shape), ranges=(-SLIDER_RANGE, SLIDER_RANGE),
                         display_size=int(w * display_scale(h, w, 196)), hidden=hidden)
    if _apply_release(result.values, keys, prefix):
        values = np.array([float(st.session_state[k]) for k in keys])
    return values, result.path, result.reason


def _live_model_key(ctx: Ctx, export) -> str:
    return f"{ctx.weights_digest()}:{export.info.sha256[:12]}"  # a re-exported file is new bytes


@st.fragment
def walk_panel(ctx: Ctx, start: np.ndarray, axes: Axes, prefix: str = "walk", grid: bool = False,
               gif_axis: int = 0, extra: Callable[[Ctx, np.ndarray], None] | None = None, share: bool = False,
               condition: int | None = None) -> None:
    """Image first (it is what a slider move must repaint), then the sliders; `extra(ctx, code)` adds output;
    share: keep the walk's state in the page URL (ui/shared/walk_url.py); condition: a conditional model's class to
    decode under (default: the sidebar's), in the page too (the live decoder exported under that class)."""
    keys = slider_keys(ctx, axes, prefix)
    walkurl.pending_values(keys)
    for k in keys:
        if k not in st.session_state:
            st.session_state[k] = 0.0
    export, note = live_decoder(ctx, condition) if len(axes) and app_config().live else (None, "")
    if export is None and note:
        st.caption(f"Decoding on the server: {note}")
    elif note:
        st.info(note)
    path, reason = "fallback", ""
    if export is not None:
        # One set of controls at a time: the path the component last reported decides, before either is drawn,
        # whether the server's panel (image and sliders) is shown; until the component has said "wasm" it loads
        # hidden. The panel's slot comes first, so on the rerun that "wasm" starts the panel is gone before the
        # component shows itself (in the other order both stood on the page until the run had decoded the image).
        path, reason = peek_path(f"{prefix}_live", _live_model_key(ctx, export))
        _apply_release(_peek_release(f"{prefix}_live", _live_model_key(ctx, export)), keys, prefix)
    values = np.array([float(st.session_state[k]) for k in keys])
    code = walk_code(start, axes, values)
    st.session_state[f"{prefix}_code"] = code
    if share:  # before the decode: a rerun superseded while it waits has written its values already
        walkurl.write_url(ctx.entry.name, axes.kind, values, condition)
    h, w = ctx.shape[-2:]
    scale = display_scale(h, w, 196)
    image = None
    if path == "wasm":
        st.empty()  # where the server's panel stood: emptied before the component shows itself
    else:
        try:  # one walk decode per session in the queue: a newer press's rerun drops this one's if not started
            image = inference.decode_latest((session_key(), prefix), ctx.model, code, condition=condition)[0]
        except inference.Superseded:
            st.stop()  # this rerun is superseded by a newer one of the same session, which draws the image
        with st.container():
            if export is not None:
                st.caption(LIVE_NOTE[path] + (f" ({reason})" if reason else "") + ".")
            elif len(axes):
                st.caption(LIVE_NOTE["fallback"] + ".")
            left, right = st.columns([1, 2])
            left.image(to_uint8(image, scale), caption="decoded mean", output_format="PNG")
            with right:
                cols = st.columns(2)
                for i, (k, label) in enumerate(zip(keys, axes.labels)):
                    cols[i % 2].slider(label, -SLIDER_RANGE, SLIDER_RANGE, step=SLIDER_STEP, key=k, format="%.1f",
                                       **KEEP)
    if export is not None:
        values, _, _ = _live_values(ctx, start, axes, keys, prefix, export, hidden=path != "wasm")
        if path == "wasm":
            st.caption(LIVE_NOTE["wasm"] + ".")
        code = walk_code(start, axes, values)
        st.session_state[f"{prefix}_code"] = code
        if share:
            walkurl.write_url(ctx.entry.name, axes.kind, values, condition)
    left, _ = st.columns([1, 2])
    with left:
        # in the page's path the image is decoded here only when its PNG is asked for
        st.download_button("Image (PNG)", file_name="latent-walk.png", mime="image/png", on_click="ignore",
                           data=lambda: to_png(image if image is not None else
                                               inference.decode_codes(ctx.model, code, condition=condition)[0], scale),
                           key=f"{prefix}_png")
        if len(axes):
            g = min(gif_axis, len(axes) - 1)
            st.download_button(f"Walk along {axis_name(axes, g)} (GIF)", on_click="ignore",
                               data=lambda: _walk_gif(ctx, start, axes, values, g, scale, condition),
                               file_name="latent-walk.gif",
                               mime="image/gif", key=f"{prefix}_gif")
    if extra is not None:
        extra(ctx, code)
    if grid and len(axes):
        codes = traversal_codes(start, axes, values, TRAVERSAL_STEPS).reshape(-1, ctx.latent_size)
        pics = inference.decode_codes(ctx.model, codes, condition=condition)
        tile = make_grid(pics, nrow=len(TRAVERSAL_STEPS))
        st.image(to_uint8(tile, display_scale(*tile.shape[-2:], 560)), output_format="PNG",
                 caption="Traversal: one row per axis (in slider order), values -3 to +3 units, the other sliders as set.")


def _walk_gif(ctx: Ctx, start: np.ndarray, axes: Axes, values: np.ndarray, axis: int, scale: int,
              condition: int | None = None) -> bytes:
    steps = np.linspace(-3.0, 3.0, 25)
    codes = traversal_codes(start, axes.subset([axis]), values[[axis]], steps).reshape(len(steps), -1)
    rest = np.delete(values, axis) * np.delete(axes.scales, axis) @ np.delete(axes.vectors, axis, axis=0)
    return to_gif(inference.decode_codes(ctx.model, codes + rest, condition=condition), scale=scale)
