"""The Latent map page's big path: a whole stored encoding (any size, 200k-1M points) drawn by the big-map component.

Used whenever the points are a stored encoding (`vae-evaluate MODEL --dataset NAME --encode-only`, kept in the
cache by explorer.analysis.encode_dataset); the first MAP_LIMIT test items stay on the Plotly map (ui/pages/map/page.py).
What happens where:
- the page (frontend/src/big_map): the density raster, pan / zoom, hover, click, box and lasso selection, search by index or
  label, and the hover decode with the model's exported decoder (the walk's own ONNX export, `live_decoder`);
- here: loading the encoding (refused up front, with the size it needs, when it would not fit in memory), the
  map's coordinates (PCA at once; UMAP / t-SNE in the background worker, fitted on a sample of FIT_SIZE and the
  rest placed with `transform`), the colour values, the hovered item's original image, a selection's counts per
  label and gallery (recomputed from the selection's quantized box or polygon, as the page selects), and
  "Send to walk" (the Plotly map's mechanism: st.session_state["walk_from_map"]).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.analysis import maps
from explorer.analysis.encode_dataset import EncodedSplit, load_encoded
from explorer.analysis.map_jobs import METHOD_PARAMS, map_key, request_map
from explorer.analysis.store import StoredEncoding, stored_encodings
from explorer.images import display_scale, to_png, to_uint8
from explorer.latent import attribute_axes
from explorer.pca import attribute_direction_map, fit_pca
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.app.dataviews import load_split
from ui.app.navigation import switch_to
from ui.components.bigmap import assets_installed, big_map, quantize, select_box, select_lasso
from ui.pages.map.jobs_ui import failed_job_ui, progress_ui
from ui.services import inference
from ui.services.itemserver import item_url, session_key
from ui.shared.decoders import live_decoder
from ui.shared.watched_decode import decode_ui

BIG_MAP_KEY = "bigmap"
FIT_SIZE = 20_000  # UMAP / t-SNE of a big encoding: fitted on this many points, the rest placed by `transform`
GALLERY = 24  # first items of a selection shown as images
METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne", "latent plane": "plane"}
LABEL_COLOUR = "label"


def encodings_of(ctx: Ctx) -> list[StoredEncoding]:
    """The model's complete stored encodings whose codes have the model's size."""
    try:
        found = stored_encodings(ctx.weights_digest(), app_config().cache_dir)
    except (OSError, ValueError):
        return []
    return [e for e in found if e.latent_dims == ctx.latent_size]


def _stamp(enc: StoredEncoding) -> float:
    try:
        return (enc.folder / "manifest.json").stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the stored encoding ...", max_entries=2)
def _load(folder: str, stamp: float) -> EncodedSplit:
    return load_encoded(folder)


@st.cache_data(show_spinner="PCA of the codes ...", max_entries=4)
def _pca(_means: np.ndarray, folder: str, stamp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = fit_pca(_means)
    return p.coords.astype(np.float32), p.components, p.mean


@st.cache_data(show_spinner=False, max_entries=8)
def _map_key(_means: np.ndarray, digest: str, folder: str, stamp: float, method: str, params_json: str) -> str:
    return map_key(digest, Path(folder).name, method, json.loads(params_json), 0, _means)


def memory_refusal(enc: StoredEncoding, method: str, loaded: bool) -> str | None:
    """None when the encoding (unless already `loaded`) and its map fit in the memory available, else a message
    with the size it would need (explorer.analysis.maps.check_map_memory, less what loading takes)."""
    load = 0 if loaded else enc.load_bytes()
    fit = FIT_SIZE if method in ("umap", "tsne") else None
    try:
        maps.check_map_memory(enc.items, enc.latent_dims, "pca" if method == "plane" else method, fit,
                              available=maps.available_memory_bytes() - load)
    except maps.MapTooLargeError as exc:
        extra = f", once its codes are loaded ({maps._gib(load)})" if load else ""
        return f"This map is refused: {exc}{extra}. Choose a smaller encoding or PCA, or free memory."
    return None


def class_names_for(ctx: Ctx, enc: StoredEncoding, labels: np.ndarray) -> list[str]:
    """Names of the label indices 0..K-1 (the encoding's, the model's for its own data set, else the numbers),
    with "unlabelled" last when some items have no label (they are drawn as class K)."""
    names = list(enc.classes or (ctx.class_names if enc.dataset == ctx.own_dataset else None) or [])
    top = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    names += [str(k) for k in range(len(names), top)]
    if (labels < 0).any():
        names.append("unlabelled")
    return names


def colour_options(enc: EncodedSplit) -> list[str]:
    opts = [LABEL_COLOUR, "ELBO", "KL", "ELBO percentile"]
    words = [f"caption word: {w}" for w in enc.caption_vocabulary or [] if not w.startswith("<")]
    return opts + [f"attribute: {a}" for a in enc.attribute_names or []] + words


def colour_values(enc: EncodedSplit, choice: str) -> tuple[np.ndarray | None, str]:
    """(values (N,) or None for the labels, their name)."""
    if choice == "ELBO":
        return enc.elbo, "ELBO (nats)"
    if choice == "KL":
        return enc.kl, "KL (nats)"
    if choice == "ELBO percentile":
        ranks = np.empty(len(enc.elbo), dtype=np.float32)
        ranks[np.argsort(enc.elbo, kind="stable")] = np.arange(len(enc.elbo), dtype=np.float32)
        return ranks * (100.0 / max(1, len(enc.elbo) - 1)), "ELBO percentile"
    if choice.startswith("attribute: ") and enc.attribute_names:
        name = choice.removeprefix("attribute: ")
        if name in enc.attribute_names:
            return enc.attributes[:, enc.attribute_names.index(name)].astype(np.float32), name
    if choice.startswith("caption word: ") and enc.caption_vocabulary:
        word = choice.removeprefix("caption word: ")
        if word in enc.caption_vocabulary:
            # 1 where the caption sampled from the item's code at encoding time holds the word
            return enc.caption_words[:, enc.caption_vocabulary.index(word)].astype(np.float32), f"'{word}' in its caption"
    return None, ""


# -- a direction between groups as the map's horizontal axis ----------------------------------------------------
def direction_choices(names: list[str], attribute_names: list[str] | None) -> list[str]:
    """"PCA 1", then each stored attribute, then the class pairs "a → b" (up to 20 classes)."""
    out = ["PCA 1"] + [f"attribute: {a}" for a in attribute_names or []]
    classes = [n for n in names if n != "unlabelled"]
    if 2 <= len(classes) <= 20:
        out += [f"{classes[a]} → {classes[b]}" for a in range(len(classes)) for b in range(a + 1, len(classes))]
    return out


def direction_plane(enc: EncodedSplit, names: list[str], labels: np.ndarray,
                    choice: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(coords (N, 2), plane (2, D), mean (D,), axis title) of a map whose x axis is the direction between the
    mean codes of two groups (explorer.latent.attribute_axes: an attribute's with / without, or class a → b) and
    whose y axis is the first principal direction of what that direction leaves
    (`explorer.pca.attribute_direction_map`); both in code units from the codes' mean, so the page's inverse of a spot
    (mean + x*u + y*v) is exact, as on the PCA map."""
    if choice.startswith("attribute: "):
        axes = attribute_axes(enc.means, enc.attributes, [choice.removeprefix("attribute: ")], enc.attribute_names)
    else:
        a, b = (names.index(part) for part in choice.split(" → "))
        axes = attribute_axes(enc.means, labels, [(a, b)], names)
    plane = attribute_direction_map(enc.means, axes.vectors[0])
    return plane.coords.astype(np.float32), plane.components, plane.mean, axes.labels[0]


@st.cache_data(show_spinner="Direction between the groups ...", max_entries=4)
def _direction(_enc: EncodedSplit, _labels: np.ndarray, names: tuple[str, ...], choice: str, folder: str,
               stamp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    return direction_plane(_enc, list(names), _labels, choice)


# -- the items' own images --------------------------------------------------------------------------------------
def item_source(enc: StoredEncoding):
    """(the split's Dataset, None) where the encoded data set loads here, else (None, why not)."""
    if not enc.dataset:
        return None, "the encoding does not say which data set it holds"
    try:
        split = load_split(enc.dataset, json.dumps(enc.options, sort_keys=True))
    except Exception as exc:  # noqa: BLE001  (data not on this machine: the map still works)
        return None, f"{enc.dataset} does not load here: {str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__}"
    part = split.test if enc.split != "train" else split.train
    if len(part) != enc.items:
        return None, f"{enc.dataset} {enc.split} has {len(part):,} items here but the encoding has {enc.items:,}"
    return part, None


def original_image(source, index: int):
    """Item `index`'s image (C, H, W) float in [0, 1] from the data set."""
    import torch

    item = source[int(index)]
    image = item[0] if isinstance(item, (tuple, list)) else item
    return torch.as_tensor(image, dtype=torch.float32)


def item_png(ctx: Ctx, enc: EncodedSplit, source, index: int) -> bytes:
    """PNG of the item's original (or, where the data set is not here, the server's decode of its code)."""
    if source is not None:
        image = original_image(source, index)
    else:
        image = inference.decode_codes(ctx.model, enc.means[index])[0]
    return to_png(image, display_scale(*image.shape[-2:], 112))


# -- the page -----------------------------------------------------------------------------------------------------
def _coords(ctx: Ctx, stored: StoredEncoding, enc: EncodedSplit, method: str) -> tuple[np.ndarray, str, str]:
    """(coords (N, 2), method shown, note); UMAP / t-SNE run in the background, PCA stands in meanwhile."""
    stamp = _stamp(stored)
    if method == "plane":
        return enc.means[:, :2], "plane", "raw latent coordinates (z0, z1)"
    if method in ("umap", "tsne"):
        params = {**METHOD_PARAMS[method], "fit_size": FIT_SIZE}
        key = _map_key(enc.means, ctx.weights_digest(), str(stored.folder), stamp, method, json.dumps(params, sort_keys=True))
        job = request_map(app_config().cache_dir, key, method, enc.means, params, seed=0, retry_failed=False)
        label = "UMAP" if method == "umap" else "t-SNE"
        if job.done and job.coords is not None:
            fitted = f", fitted on {FIT_SIZE:,} and the rest placed" if stored.items > FIT_SIZE else ""
            return job.coords, method, f"computed in the background{fitted}, cached in {app_config().cache_dir}"
        if job.done:
            failed_job_ui(job, label)
        else:
            progress_ui(key, label)
        note = f"{label} not ready: showing PCA"
    else:
        note = ""
    return _pca(enc.means, str(stored.folder), stamp)[0], "pca", note


def selection_ui(ctx: Ctx, enc: EncodedSplit, names: list[str], labels: np.ndarray, inside: np.ndarray,
                 what: str, source) -> None:
    """Counts per label and a gallery of the first items of a selection (indices ascending)."""
    st.subheader(f"{what}: {len(inside):,} points")
    counts = np.bincount(labels[inside], minlength=len(names)) if len(inside) else np.zeros(len(names), int)
    rows = [(names[k], int(c)) for k, c in enumerate(counts) if c > 0]
    rows.sort(key=lambda r: -r[1])
    if rows:
        st.dataframe({"label": [r[0] for r in rows], "points": [r[1] for r in rows]}, hide_index=True,
                     key="bigmap_counts", width=360)
    first = [int(i) for i in inside[:GALLERY]]
    if first:
        kind = "original" if source is not None else "decoded (the data set's images are not here)"
        st.image([item_png(ctx, enc, source, i) for i in first], output_format="PNG",
                 caption=[f"{i}: {names[labels[i]]}" for i in first])
        st.caption(f"The first {len(first)} of {len(inside):,} items, {kind}.")


def point_ui(ctx: Ctx, stored: StoredEncoding, enc: EncodedSplit, names: list[str], labels: np.ndarray, index: int,
             source) -> None:
    """One item: its original, the server's decode of its code, and a button that starts the walk there."""
    st.subheader(f"Item {index} ({names[labels[index]]})")
    c = st.columns([1, 1, 2])
    decoded = decode_ui(ctx.model, ctx.key, enc.means[index], "item decode", c[1].empty())  # bar, Cancel
    s = display_scale(*ctx.model.config.input_shape[-2:], 112)
    if source is not None:
        c[0].image(to_uint8(original_image(source, index), s), caption="original", output_format="PNG")
    if decoded is not None:
        c[1].image(to_uint8(decoded, s), caption=f"decoded {ctx.model.code_name}", output_format="PNG")
    if c[2].button("Send to latent walk", key="bigmap_send", type="primary"):
        send_to_walk(ctx, stored, enc, index, names[labels[index]])


def send_to_walk(ctx: Ctx, stored: StoredEncoding, enc: EncodedSplit, index: int, label: str) -> None:
    """Start the walk at item `index`'s code, as the Plotly map does."""
    st.session_state["walk_from_map"] = {
        "model_key": ctx.key, "dataset": stored.dataset, "index": int(index),
        "code": enc.means[index].astype(np.float64).tolist(),
        "label": f"map point {index} of {stored.dataset} {stored.split} ({label})"}
    st.session_state["walk_start"] = "map point"
    switch_to("walk")


def _search(text: str, names: list[str], labels: np.ndarray) -> tuple[int | None, np.ndarray | None, str]:
    """(item index, members of a label, message) for a search text: an index, or a label's name."""
    text = text.strip()
    if not text:
        return None, None, ""
    if text.isdigit():
        i = int(text)
        return (i, None, "") if i < len(labels) else (None, None, f"no item {i}: there are {len(labels):,}")
    lowered = [n.lower() for n in names]
    k = lowered.index(text.lower()) if text.lower() in lowered else next(
        (j for j, n in enumerate(lowered) if text.lower() in n), -1)
    if k < 0:
        return None, None, f"no label {text!r}; labels: {', '.join(names[:20])}"
    return None, np.flatnonzero(labels == k), ""


def big_page(ctx: Ctx, stored: StoredEncoding, choice: str) -> None:
    """The map of one stored encoding (see the module docstring). `choice` is the map method's name."""
    method = METHODS[choice]
    loaded_key = (str(stored.folder), _stamp(stored))
    refusal = memory_refusal(stored, method, loaded=st.session_state.get("_bigmap_loaded") == loaded_key)
    if refusal:
        st.error(refusal)
        return
    if not assets_installed():
        st.error("The big-map component's files are not installed, so a stored encoding cannot be drawn: run "
                 "scripts/setup.sh (or pip install -e frontend/assets). The test items' map stays available.")
        return
    try:
        enc = _load(*loaded_key)
    except (OSError, ValueError, KeyError) as exc:  # deleted, torn or foreign shards: say so, keep serving
        st.error(f"The stored encoding {stored.label} could not be read: {exc}")
        return
    st.session_state["_bigmap_loaded"] = loaded_key
    labels = np.where(enc.labels < 0, -1, enc.labels).astype(np.int64)
    names = class_names_for(ctx, stored, labels)
    labels = np.where(labels < 0, len(names) - 1, labels)
    coords, shown, note = _coords(ctx, stored, enc, method)
    c = st.columns(2)
    colour = c[0].selectbox("Colour by", colour_options(enc), key="bigmap_colour",
                            help="Labels, or a value per item from the stored encoding (the page's 'Colour' button "
                                 "switches between the two)")
    axis = "PCA 1"
    if shown == "pca":
        axis = c[1].selectbox("Horizontal axis", direction_choices(names, enc.attribute_names), key="bigmap_axis",
                              help="PCA 1, or the direction from the mean code of one group to another's "
                                   "(explorer.latent.attribute_axes); the vertical axis is then PCA 1 without it")
    values, value_name = colour_values(enc, colour)
    export = None
    if app_config().live:
        export, _ = live_decoder(ctx)
    comps = mean = None
    if shown == "pca":
        _, comps, mean = _pca(enc.means, *loaded_key)
        if axis != "PCA 1":
            coords, comps, mean, title = _direction(enc, labels, tuple(names), axis, *loaded_key)
            shown = f"direction {axis}"
            note = "; ".join(p for p in [note, f"x: the direction {title} (mean codes, code units), y: the first "
                                                "principal direction of what it leaves"] if p)
    source, why = item_source(stored)
    model_key = f"{ctx.weights_digest()}:{export.info.sha256[:12]}" if export is not None else None
    image_of = functools.partial(item_png, ctx, enc, source)  # index -> PNG: by the route, or on the next rerun
    image_url = item_url(session_key(), f"{ctx.key}|{loaded_key}", len(enc.means), image_of)
    event = big_map(BIG_MAP_KEY, coords, labels, names, f"{stored.folder.name}:{loaded_key[1]}:{shown}:{colour}",
                    values=values, value_name=value_name or "value", colour="value" if values is not None else "label",
                    decoder=export.path if export is not None else None, model_key=model_key,
                    pca_mean=mean, pca_components=comps, codes=enc.means, image_shape=tuple(ctx.shape),
                    item_image=image_of, item_url=image_url, height=620)
    path = event.status.get("path", "pending")
    hover = {"wasm": "hover decodes in your browser (onnxruntime-web): the hovered item's code, or between items "
                     "on a PCA map the code under the pointer (PCA inverse)",
             "fallback": f"hover decodes nothing in the page ({event.status.get('reason', 'no decoder')})",
             "pending": "the in-page decoder is loading"}.get(path, "")
    if export is None:
        hover = "hover decodes nothing in the page (no exported decoder" + ("" if app_config().live else ": live decoding is off") + ")"
    follows = (f"the item's original from {stored.dataset} follows from the server (labelled 'image (server)')"
               if source is not None else f"the server's decode of the item follows ({why})")
    st.caption("; ".join(p for p in [
        f"{stored.items:,} items of {stored.dataset} {stored.split}, each point its {ctx.model.code_name} (stored encoding)",
        note, hover, follows] if p) + ". Drag to pan, wheel to zoom; box / lasso to select; click a point, then "
        "'Send to walk'.")
    if event.walk is not None:
        send_to_walk(ctx, stored, enc, event.walk, names[labels[event.walk]])
    found, members, message = _search(st.text_input("Find an item (index) or a label", key="bigmap_find"), names, labels)
    if message:
        st.warning(message)
    sel = event.selection
    if sel is not None and (sel.qbox is not None or sel.qpolygon):
        q = quantize(coords, event.bounds)
        inside = select_lasso(q, sel.qpolygon) if sel.kind == "lasso" and sel.qpolygon else select_box(q, sel.qbox)
        selection_ui(ctx, enc, names, labels, inside, f"{sel.kind.capitalize()} selection", source)
    elif members is not None:
        selection_ui(ctx, enc, names, labels, members, f"Label {names[labels[members[0]]] if len(members) else ''}", source)
    item = found if found is not None else event.clicked
    if item is not None and 0 <= item < len(labels):
        point_ui(ctx, stored, enc, names, labels, int(item), source)


__all__ = ["BIG_MAP_KEY", "FIT_SIZE", "big_page", "class_names_for", "colour_values", "encodings_of", "memory_refusal"]
