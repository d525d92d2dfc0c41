"""The codebook panel: the walk page of a model whose code is a grid of codebook indices (VQ-VAE, FSQ, VQModel).

Sliders mean nothing on indices, so this panel shows what each code means instead:
- usage over the data set (every item the page holds, counted in the background: ui.services.codebook_jobs), as a
  histogram with the dead codes listed, the share in use and the data-set-level perplexity;
- the code -> patch gallery: the items that use a code most, its cell's footprint and receptive field outlined;
- the codebook as a map: PCA of the code vectors sized by usage (FSQ: decoded thumbnails on its lattice);
- an image's code grid drawn over it: a click sets a cell to another code, decoded in the page (ui.components.code_grid:
  a Web Worker on the exported decode from indices) where the decoder fits the page (ui.services.decoders), else by
  the server; a pasted grid (or the `codes` link parameter) is checked, and an index outside the codebook gets a
  message;
- interpolation between two images' code grids, cell by cell;
- a sample from the data's code frequencies, and why it does not look like the data.

The maths is explorer.analysis.codebook; every model call runs on the inference thread (ui.services.inference).
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw

from explorer.analysis import codebook as cb
from explorer.cache import array_digest
from explorer.images import display_scale, make_grid, to_uint8
from explorer.models.base import CodeLevel, check_code_indices
from ui.app.config import app_config
from ui.app.context import Ctx
from ui.components import code_grid
from ui.pages.walk.registry import register_walk_panel
from ui.services import inference
from ui.shared.codebook_usage import dataset_indices
from ui.services.decoders import page_frame_seconds
from ui.shared.decoders import live_indices_decoder
from ui.shared.walk_panel import KEEP

GALLERY = 8  # items shown for a code
SAMPLES = 8  # images drawn from the code frequencies
NEIGHBOURS = 8  # codes in the walk along a code's neighbours
DEAD_SHOWN = 200  # dead codes listed by index before "and N more"
FOOTPRINT, FIELD = (230, 40, 40), (250, 200, 0)  # outline colours: the cell's footprint, its receptive field
CELL_CHART = "codebook_cells"  # the clickable grid chart
URL_PARAM = "codes"  # a link's code grid: rows separated by ";", codes by ","
LIVE_KEY = "codebook_live_grid"  # the in-page editor (ui.components.code_grid)
# a decode from indices estimated at most this long in the page runs on the page's thread (onnxruntime-web's async
# run); a longer one in a Web Worker. On a loaded 2-core machine the hop to the worker and back cost more than a
# 1 ms decode: click -> canvas write p50 74 ms in the worker, 15 ms on the page's thread (docs/discrete.md)
MAIN_THREAD_S = 0.004


# -- model calls (inference thread), cached per model and indices ------------------------------------------
@st.cache_data(show_spinner=False, max_entries=128)
def _decode(_model, model_key: str, indices: tuple[np.ndarray, ...], levels: tuple[int, ...] | None = None) -> np.ndarray:
    """Images (B, C, H, W) in [0, 1] decoded from indices per level, each (B, h, w)."""
    def work() -> np.ndarray:
        parts = [torch.from_numpy(np.asarray(i, dtype=np.int64)).to(_model.device) for i in indices]
        with torch.no_grad():
            return _model.decode_indices(parts, None if levels is None else list(levels)).float().cpu().numpy()
    return inference.run(work)


@st.cache_data(show_spinner=False, max_entries=8)
def _codebook(_model, model_key: str, level: int) -> np.ndarray:
    """A level's code vectors (K, D) float32."""
    return inference.run(lambda: _model.codebook(level).float().cpu().numpy())


def code_vectors(ctx: Ctx, level: int) -> np.ndarray | None:
    """A level's code vectors (K, D), or None for a model that holds none (an ONNX index pair: its decoder reads
    indices only)."""
    try:
        return _codebook(ctx.model, ctx.key, level)
    except (ValueError, NotImplementedError):
        return None


def decode(ctx: Ctx, indices: list[np.ndarray], levels: list[int] | None = None) -> np.ndarray:
    return _decode(ctx.model, ctx.key, tuple(np.asarray(i, dtype=np.int64) for i in indices),
                   None if levels is None else tuple(levels))


# -- drawing -----------------------------------------------------------------------------------------------
def _rgb(image: np.ndarray, scale: int) -> Image.Image:
    arr = to_uint8(np.clip(image, 0.0, 1.0), scale)
    return Image.fromarray(arr if arr.ndim == 3 else np.stack([arr] * 3, -1))


def outlined(image: np.ndarray, boxes: list[tuple[cb.Box, tuple[int, int, int]]], target: int = 140) -> np.ndarray:
    """An image (C, H, W) enlarged to about `target` px with each (top, left, bottom, right) box outlined."""
    scale = display_scale(*image.shape[-2:], target)
    pic = _rgb(image, scale)
    draw = ImageDraw.Draw(pic)
    for (top, left, bottom, right), colour in boxes:
        draw.rectangle([left * scale, top * scale, right * scale - 1, bottom * scale - 1], outline=colour, width=2)
    return np.asarray(pic)


def grid_over(image: np.ndarray, grid: np.ndarray, level: CodeLevel, mark: tuple[int, int] | None = None,
              target: int = 320) -> np.ndarray:
    """An image (C, H, W) with its code grid (h, w) drawn over it: cell lines and each cell's index; `mark`ed cell
    outlined."""
    scale = display_scale(*image.shape[-2:], target)
    pic = _rgb(image, scale)
    draw = ImageDraw.Draw(pic)
    s = level.stride * scale
    h, w = grid.shape
    for i in range(h + 1):
        draw.line([0, i * s, w * s, i * s], fill=(80, 160, 255), width=1)
    for j in range(w + 1):
        draw.line([j * s, 0, j * s, h * s], fill=(80, 160, 255), width=1)
    for i in range(h):
        for j in range(w):
            draw.text((j * s + 2, i * s + 1), str(int(grid[i, j])), fill=(255, 255, 0), stroke_width=1, stroke_fill=(0, 0, 0))
    if mark is not None:
        r, c = mark
        draw.rectangle([c * s, r * s, (c + 1) * s - 1, (r + 1) * s - 1], outline=FOOTPRINT, width=3)
    return np.asarray(pic)


def clicked_cell(event, grid: tuple[int, int]) -> tuple[int, int] | None:
    """The (row, col) of the cell clicked in the grid chart (`st.plotly_chart(on_select="rerun")` state, whose
    points index the cell markers row by row), or None."""
    h, w = grid
    for p in (event or {}).get("selection", {}).get("points", []) or []:
        i = p.get("point_index", p.get("point_number"))
        if p.get("curve_number") == 1 and i is not None and 0 <= int(i) < h * w:
            return divmod(int(i), w)
    return None


def cells_chart_ui(picture: np.ndarray, grid: np.ndarray, level: CodeLevel) -> None:
    """The grid drawn over the image (H', W', 3) as a Plotly chart with one clickable marker per cell."""
    h, w = grid.shape
    s = picture.shape[0] / (h * level.stride) * level.stride  # display pixels per cell
    rows, cols = np.divmod(np.arange(h * w), w)
    fig = go.Figure([go.Image(z=picture, hoverinfo="skip"),
                     go.Scatter(x=(cols + 0.5) * s, y=(rows + 0.5) * s, mode="markers",
                                marker={"size": max(6, s * 0.6), "opacity": 0.05, "color": "white", "symbol": "square"},
                                text=[f"cell ({r}, {c}): code {int(grid[r, c])}" for r, c in zip(rows, cols)],
                                hoverinfo="text")])
    fig.update_layout(height=picture.shape[0] + 20, width=picture.shape[1] + 20, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      xaxis={"visible": False}, yaxis={"visible": False}, dragmode=False, showlegend=False)
    st.plotly_chart(fig, key=CELL_CHART, on_select="rerun", selection_mode="points", config={"displaylogo": False})


# -- code grids from text (a pasted grid or a link) -----------------------------------------------------------
def parse_grid(text: str, level: CodeLevel) -> np.ndarray:
    """A code grid (h, w) int64 from text: rows separated by ";" or new lines, codes by "," or spaces. A ValueError
    names the problem (not integers, the wrong shape, an index outside the codebook)."""
    rows = [r for r in text.replace(";", "\n").splitlines() if r.strip()]
    try:
        values = [[int(v) for v in r.replace(",", " ").split()] for r in rows]
    except ValueError as err:
        raise ValueError(f"a code grid holds whole numbers only ({err})") from None
    lengths = sorted({len(r) for r in values})
    grid = np.array(values if len(lengths) == 1 else [], dtype=np.int64)
    if len(lengths) != 1 or grid.shape != level.grid:
        got = f"rows of {lengths} codes" if len(lengths) != 1 else f"{grid.shape[0]} x {grid.shape[1]}"
        raise ValueError(f"the code grid of level {level.name!r} is {level.grid[0]} x {level.grid[1]} cells; "
                         f"got {got}")
    check_code_indices(torch.from_numpy(grid[None]), [level])  # names the index outside 0..K-1
    return grid


def grid_from_upload(name: str, data: bytes, level: CodeLevel) -> np.ndarray:
    """A code grid (h, w) int64 from an uploaded file: a .npy array of integers (h, w) or (1, h, w), read without
    pickles, or a text file as `parse_grid` reads it. A ValueError names the problem."""
    if not name.lower().endswith(".npy"):
        try:
            return parse_grid(data.decode("utf-8"), level)
        except UnicodeDecodeError:
            raise ValueError(f"{name} is neither a .npy array nor UTF-8 text") from None
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{name} is not a readable .npy array of integers ({err})") from None
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} holds {arr.dtype} values; code indices are integers")
    if arr.shape != level.grid:
        raise ValueError(f"the code grid of level {level.name!r} is {level.grid[0]} x {level.grid[1]} cells; "
                         f"{name} holds an array of shape {arr.shape}")
    check_code_indices(torch.from_numpy(arr.astype(np.int64)[None]), [level])  # names the index outside 0..K-1
    return arr.astype(np.int64)


def grid_bytes(grid: np.ndarray) -> bytes:
    """A code grid (h, w) as .npy bytes (int64), the form the upload reads back."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(grid, dtype=np.int64), allow_pickle=False)
    return buf.getvalue()


def grid_text(grid: np.ndarray) -> str:
    return ";".join(",".join(str(int(v)) for v in row) for row in grid)


# -- usage -------------------------------------------------------------------------------------------------
def usage_ui(stats: cb.UsageStats, level: CodeLevel, name: str) -> None:
    st.subheader("Codebook usage")
    m = st.columns(3)
    m[0].metric("codes in use", f"{stats.used} of {stats.codebook_size}", help="used at least once by any cell")
    m[1].metric("share in use", f"{100 * stats.share_in_use:.1f}%")
    m[2].metric("data-set-level perplexity", f"{stats.perplexity:.1f}",
                help="exp(entropy of the usage over every item), 1 to K; one batch's perplexity understates it")
    st.caption(f"{stats.label()} of {name}. Counted over every cell of every item, never one batch.")
    fig = go.Figure(go.Bar(x=np.arange(stats.codebook_size), y=stats.counts, marker_line_width=0))
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, bargap=0,
                      title=f"cells per code over {stats.items} items (level {level.name})",
                      xaxis_title="code index", yaxis_title="cells")
    st.plotly_chart(fig, key="codebook_usage_hist")
    dead = stats.dead_codes
    if len(dead):
        more = f" and {len(dead) - DEAD_SHOWN} more" if len(dead) > DEAD_SHOWN else ""
        st.caption(f"Dead codes ({len(dead)}, never chosen): " + ", ".join(map(str, dead[:DEAD_SHOWN])) + more)
    else:
        st.caption("Dead codes: none; every code is chosen by at least one cell.")


def gallery_ui(ctx: Ctx, images: np.ndarray, indices: np.ndarray, stats: cb.UsageStats, level: CodeLevel) -> None:
    st.subheader("What a code stands for")
    st.session_state.setdefault("codebook_code", int(np.argmax(stats.counts)))
    code = int(st.number_input(f"Code (0 to {level.codebook_size - 1}; starts at the most used)", 0,
                               level.codebook_size - 1, key="codebook_code", **KEEP))
    patches = cb.code_patches(indices, code, level, images.shape[-2:], top=GALLERY)
    if not patches:
        st.info(f"Code {code} is dead: no cell of these {len(images)} items chose it.")
        return
    cols = st.columns(len(patches))
    for col, p in zip(cols, patches):
        col.image(outlined(images[p.item], [(p.receptive_field, FIELD), (p.footprint, FOOTPRINT)]),
                  caption=f"item {p.item}: {p.count} cells, first at {p.cell}")
    st.caption(f"The {len(patches)} items whose grids use code {code} most. Red: the first such cell's "
               f"{level.stride} x {level.stride} footprint; yellow: its {level.receptive_field} px receptive field "
               "(what the encoder saw to choose the code).")


def codebook_map_ui(ctx: Ctx, stats: cb.UsageStats, level: CodeLevel, index: int) -> None:
    st.subheader("The codebook as a map")
    if level.learned_codebook:
        from_pca = inference.run(cb.codebook_pca, ctx.model, stats, index)  # (K, 2) coords, usage beside
        size = 4 + 26 * np.sqrt(stats.counts / max(stats.counts.max(), 1))
        fig = go.Figure(go.Scatter(x=from_pca.coords[:, 0], y=from_pca.coords[:, 1], mode="markers",
                                   marker={"size": size, "color": np.log1p(stats.counts), "colorscale": "Viridis",
                                               "colorbar": {"title": "log(1+cells)"}},
                                   text=[f"code {k}: {c} cells" for k, c in enumerate(stats.counts)],
                                   hoverinfo="text"))
        ratio = from_pca.explained_variance_ratio
        fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                          xaxis_title=f"PC 1 ({100 * ratio[0]:.0f}%)", yaxis_title=f"PC 2 ({100 * ratio[1]:.0f}%)")
        st.plotly_chart(fig, key="codebook_map")
        st.caption(f"PCA of the {stats.codebook_size} code vectors ({level.code_size}-D), each sized by its usage; "
                   "dead codes are the smallest dots.")
        return
    _lattice_ui(ctx, stats, level, index)


def _lattice_ui(ctx: Ctx, stats: cb.UsageStats, level: CodeLevel, index: int) -> None:
    """FSQ: no learned vectors; each code decoded alone (every cell set to it), on the lattice of its levels."""
    vectors = code_vectors(ctx, index)
    if vectors is None:  # no vectors at all: the first codes by index, each decoded alone
        k = min(level.codebook_size, 64)
        place = np.stack([np.arange(k) % 8, np.arange(k) // 8], 1)
    else:
        place = cb.lattice_positions(vectors)  # (K, D)
    sizes = place.max(0) + 1
    fixed = {d: 0 for d in range(2, len(sizes)) if sizes[d] == 1}  # a dimension of one level has no slider
    sliders = [d for d in range(2, len(sizes)) if sizes[d] > 1]
    if sliders:
        cols = st.columns(len(sliders))
        for col, d in zip(cols, sliders):
            fixed[d] = int(col.slider(f"Level of dimension {d}", 0, int(sizes[d] - 1), int(sizes[d] // 2),
                                      key=f"codebook_lattice_{d}", **KEEP))
    chosen = np.all([place[:, d] == v for d, v in fixed.items()], axis=0) if fixed else np.ones(len(place), bool)
    codes = np.flatnonzero(chosen)
    codes = codes[np.lexsort((place[codes, 0], place[codes, 1]))]  # rows: dimension 1, columns: dimension 0
    grids = np.broadcast_to(codes[:, None, None], (len(codes), *level.grid)).copy()
    others = [np.zeros((len(codes), *lv.grid), np.int64) for lv in ctx.model.code_levels()]
    others[index] = grids
    thumbs = decode(ctx, others, levels=None)
    sheet = make_grid(torch.from_numpy(thumbs), nrow=int(sizes[0]))
    where = (f"codes 0 to {len(codes) - 1}, eight a row" if vectors is None else
             f"on its lattice: columns are dimension 0's {sizes[0]} levels, rows dimension 1's {sizes[1]}"
             + (f", the other dimensions at {fixed}" if fixed else ""))
    st.image(to_uint8(sheet, display_scale(*sheet.shape[-2:], 640)), output_format="PNG",
             caption=f"Each code decoded with every cell set to it, {where}")
    used = stats.counts[codes]
    if vectors is None:
        st.caption(f"This model holds no code vectors (its decoder reads indices), so there is nothing to map: the "
                   f"first {len(codes)} codes by index are shown decoded alone, {int((used > 0).sum())} of them in use.")
        return
    st.caption(f"FSQ has no learned code vectors (its codes are the points of a fixed lattice), so the map shows what "
               f"each point decodes to. Of the {len(codes)} codes shown, {int((used > 0).sum())} are in use.")


# -- the grid editor -----------------------------------------------------------------------------------------
def editor_ui(ctx: Ctx, images: np.ndarray, all_indices: list[np.ndarray], level: CodeLevel, index: int) -> None:
    st.subheader("Edit an image's code grid")
    n = len(images)
    item = int(st.number_input(f"Test item (0 to {n - 1})", 0, n - 1, value=0, key="codebook_item", **KEEP))
    own = [a[item] for a in all_indices]
    url = st.query_params.get(URL_PARAM)
    if url is not None and "codebook_pasted" not in st.session_state:
        st.session_state["codebook_pasted"] = url
    pasted = st.text_input("Or paste a code grid (rows separated by ';', codes by ','; also the link's "
                           f"`{URL_PARAM}` parameter)", key="codebook_pasted", **KEEP)
    grid = own[index].astype(np.int64)
    source = f"item {item}'s code grid"
    if pasted.strip():
        try:
            grid = parse_grid(pasted, level)
            source = "the pasted code grid"
        except ValueError as err:
            st.error(f"Pasted code grid: {err}. The page shows item {item}'s own grid instead.")
    upload = st.file_uploader("Or upload a code grid (.npy of integers, or text as above)", type=["npy", "txt", "csv"],
                              key="codebook_upload")
    if upload is not None:
        try:
            grid = grid_from_upload(upload.name, upload.getvalue(), level)
            source = f"the uploaded code grid {upload.name}"
        except ValueError as err:
            st.error(f"Uploaded code grid: {err}. The page shows {source} instead.")
    parts = list(own)
    parts[index] = grid
    export, note = live_indices_decoder(ctx) if app_config().live and code_grid.assets_installed() else (None, "")
    if export is None and note:
        st.caption(f"Decoding on the server: {note}")
    live = None
    if export is not None:
        model_key = f"{ctx.weights_digest()}:{export.info.sha256[:12]}"  # a re-exported file is new bytes
        grid_key = array_digest(*parts, dtype=np.int64, prefix=f"{ctx.key}|{item}|{index}|{source}".encode())
        live = (export, model_key, grid_key, "main" if page_frame_seconds(export) <= MAIN_THREAD_S else "worker")
    path = code_grid.peek(LIVE_KEY, live[2], live[1], ctx.model.code_levels()).path if live else "fallback"
    if path == "wasm":
        edited, cell = _live_editor_ui(ctx, images[item], parts, level, index, item, source, live)
    else:
        edited, cell = _server_editor_ui(ctx, images[item], parts, level, index, item, source)
        if live is not None:  # loads out of sight and says when it decodes; then it replaces the server's editor
            _live_editor_ui(ctx, images[item], parts, level, index, item, source, live, hidden=True)
    if len(parts) > 1:  # a two-level model: each level decoded alone, the other's code vectors at zero
        alone = st.columns(len(parts))
        for i, lv in enumerate(ctx.model.code_levels()):
            alone[i].image(outlined(decode(ctx, [p[None] for p in edited], levels=[i])[0], []),
                           caption=f"the edited code decoded with level {lv.name} alone")
    neighbours_ui(ctx, edited, index, cell, int(edited[index][cell]))
    st.download_button("This code grid (.npy)", data=grid_bytes(edited[index]), file_name="code_grid.npy",
                       mime="application/octet-stream", on_click="ignore", key="codebook_grid_npy")
    moved = float(np.abs(decode(ctx, [p[None] for p in edited])[0] - decode(ctx, [p[None] for p in parts])[0]).mean())
    where = ("Decoded in your browser from the indices (onnxruntime-web, the exported decode from indices); the "
             "server decodes the same indices for the figures below" if path == "wasm" else
             "Decoded on the server from the indices (decode_indices)")
    st.caption(f"{where}. Mean change over the image: {moved:.4f}. Link to this grid: "
               f"`?{URL_PARAM}={grid_text(edited[index])}`")


def _server_editor_ui(ctx: Ctx, image: np.ndarray, parts: list[np.ndarray], level: CodeLevel, index: int, item: int,
                      source: str) -> tuple[list[np.ndarray], tuple[int, int]]:
    """The server's editor: the grid as a clickable chart, row, column and code inputs, the decodes before and after
    (decoded on the server). Returns the edited grids per level and the edited cell."""
    grid = parts[index]
    h, w = level.grid
    c = st.columns(3)
    clicked = clicked_cell(st.session_state.get(CELL_CHART), level.grid)
    if clicked is not None and clicked != st.session_state.get("_codebook_clicked"):  # a new click picks the cell
        st.session_state["_codebook_clicked"] = clicked
        st.session_state["codebook_row"], st.session_state["codebook_col"] = clicked
    st.session_state.setdefault("codebook_row", h // 2)
    st.session_state.setdefault("codebook_col", w // 2)
    row = int(c[0].number_input(f"Row (0 to {h - 1})", 0, h - 1, key="codebook_row", **KEEP))
    col = int(c[1].number_input(f"Column (0 to {w - 1})", 0, w - 1, key="codebook_col", **KEEP))
    if st.session_state.get("_codebook_cell") != (item, row, col, source):  # another cell: start from its own code
        st.session_state["_codebook_cell"] = (item, row, col, source)
        st.session_state["codebook_new"] = int(grid[row, col])
    new = int(c[2].number_input(f"New code for that cell (0 to {level.codebook_size - 1})", 0,
                                level.codebook_size - 1, key="codebook_new", **KEEP))
    edited = list(parts)
    edited[index] = grid.copy()
    edited[index][row, col] = new
    before = decode(ctx, [p[None] for p in parts])[0]
    after = decode(ctx, [p[None] for p in edited])[0]
    out = st.columns(3)
    with out[0]:
        cells_chart_ui(grid_over(image, grid, level, (row, col)), grid, level)
        st.caption(f"item {item} with {source} (level {level.name}): click a cell to pick it")
    out[1].image(outlined(before, []), caption=f"decode of {source}")
    out[2].image(outlined(after, [(cb.cell_boxes(level, row, col, image.shape[-2:])[0], FOOTPRINT)]),
                 caption=f"decode with cell ({row}, {col}) set to code {new}")
    return edited, (row, col)


def _live_editor_ui(ctx: Ctx, image: np.ndarray, parts: list[np.ndarray], level: CodeLevel, index: int, item: int,
                    source: str, live: tuple, hidden: bool = False) -> tuple[list[np.ndarray], tuple[int, int]]:
    """The editor in the page (ui.components.code_grid): a click sets a cell to the picked code and the page decodes
    the grid itself. Returns the grids the page reported (the start grids before its first edit) and the last
    edited cell; a new edit goes into the link (`codes`)."""
    export, model_key, grid_key, decode_in = live
    h, w = level.grid
    result = code_grid.code_grid(
        LIVE_KEY, export.path, model_key, ctx.model.code_levels(), parts, index,
        int(st.session_state.get("codebook_code", 0)), image, grid_key,
        display_size=int(image.shape[-1] * display_scale(*image.shape[-2:], 280)),
        caption=f"item {item} with {source} (level {level.name}), decoded in your browser: click a cell to set it "
                "to the code on the right", hidden=hidden, decode_in=decode_in)
    if hidden or result.grids is None:
        return list(parts), (h // 2, w // 2)
    text = grid_text(result.grids[index])
    if st.query_params.get(URL_PARAM) != text:
        st.query_params[URL_PARAM] = text  # the link follows the page's edits
    return result.grids, result.cell or (h // 2, w // 2)


def neighbours_ui(ctx: Ctx, parts: list[np.ndarray], index: int, cell: tuple[int, int], code: int) -> None:
    """A walk along the code's neighbours: the edited cell set to each of the NEIGHBOURS codes whose vectors lie
    nearest to its code's (FSQ: the nearest lattice points), decoded in one batch."""
    vectors = code_vectors(ctx, index)
    if vectors is None:
        st.caption("No walk along a code's neighbours: this model holds no code vectors to measure nearness by.")
        return
    near = cb.nearest_codes(vectors, code, NEIGHBOURS)
    grids = np.repeat(parts[index][None], len(near), axis=0)  # (k, h, w)
    grids[:, cell[0], cell[1]] = near
    others = [np.repeat(p[None], len(near), axis=0) for p in parts]
    others[index] = grids
    frames = decode(ctx, others)
    strip = make_grid(torch.from_numpy(frames), nrow=len(near))
    st.image(to_uint8(strip, display_scale(*strip.shape[-2:], 900)), output_format="PNG",
             caption=f"Along code {code}'s neighbours: cell {cell} set to each of the codes "
                     f"{', '.join(map(str, near))}, nearest code vector first")


def interpolation_ui(ctx: Ctx, images: np.ndarray, all_indices: list[np.ndarray]) -> None:
    st.subheader("Interpolation between two images' code grids")
    n = len(images)
    c = st.columns(3)
    a = int(c[0].number_input("From item", 0, n - 1, value=0, key="codebook_from", **KEEP))
    b = int(c[1].number_input("To item", 0, n - 1, value=min(1, n - 1), key="codebook_to", **KEEP))
    steps = int(c[2].number_input("Steps", 3, 16, value=8, key="codebook_steps", **KEEP))
    paths = [cb.cellwise_path(lv[a].astype(np.int64), lv[b].astype(np.int64), steps, seed=0) for lv in all_indices]
    frames = decode(ctx, paths)
    strip = make_grid(torch.from_numpy(frames), nrow=steps)
    st.image(to_uint8(strip, display_scale(*strip.shape[-2:], 900)), output_format="PNG",
             caption=f"item {a} → item {b}, swapping the differing cells one group at a time (seeded order)")
    st.caption("Codes have no order between them, so there is no halfway code: each step switches more of the cells "
               "where the two grids differ from the first image's code to the second's.")


def sample_ui(ctx: Ctx, usages: list[cb.UsageStats], name: str) -> None:
    st.subheader("A sample from the code frequencies")
    seed = int(st.number_input("Seed", 0, 2**31 - 1, value=0, key="codebook_seed", **KEEP))
    gen = torch.Generator().manual_seed(seed)

    def work() -> np.ndarray:
        return cb.sample_from_usage(ctx.model, usages, SAMPLES, gen)[0].float().cpu().numpy()

    images = inference.run(work)
    sheet = make_grid(torch.from_numpy(images), nrow=SAMPLES)
    st.image(to_uint8(sheet, display_scale(*sheet.shape[-2:], 900)), output_format="PNG",
             caption=f"{SAMPLES} images whose every cell draws its code from the usage over {name}, on its own")
    st.caption("These do not look like the data: the model has no learned prior over code grids (a PixelCNN or a "
               "transformer would learn one), so each cell is drawn without regard to its neighbours. The codes are "
               "right in frequency and wrong in arrangement.")


@register_walk_panel("discrete")
def codebook_panel(ctx: Ctx) -> None:
    """The codebook panel (see the module docstring)."""
    levels = ctx.model.code_levels()
    view = ctx.data()
    described = ", ".join(f"{lv.name}: {lv.grid[0]} x {lv.grid[1]} cells of {lv.codebook_size} codes" for lv in levels)
    st.caption(f"This model's code is a grid of codebook indices ({described}); sliders have no meaning on indices, so "
               "this panel shows what each code stands for and edits the grid instead.")
    if not view.has_images:
        st.info(f"The images of {view.name} are not available here, so there is no usage to count.")
        return
    images = view.images
    name = f"{view.name} ({len(images)} test items)"
    all_indices = dataset_indices(ctx, images, name, "codebook")
    if all_indices is None:
        return
    index = 0
    if len(levels) > 1:
        index = st.radio("Level", range(len(levels)), format_func=lambda i: levels[i].name, horizontal=True,
                         key="codebook_level", **KEEP)
    level = levels[index]
    usages = [cb.usage_stats(a, lv.codebook_size) for a, lv in zip(all_indices, levels)]
    usage_ui(usages[index], level, name)
    gallery_ui(ctx, images, all_indices[index], usages[index], level)
    codebook_map_ui(ctx, usages[index], level, index)
    editor_ui(ctx, images, all_indices, level, index)
    interpolation_ui(ctx, images, all_indices)
    sample_ui(ctx, usages, name)
