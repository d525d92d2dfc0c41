"""LatentMap: the million-point map as a notebook widget (an anywidget), with hover decode, box and lasso selection
and search.

The page code is the Streamlit component's (frontend/src/big_map/) on the notebook host, built into one ESM,
big_map_widget.js (its entry, src/big_map/widget.js, makes the component's BMAP payloads from the widget's data).
The synced `data` trait holds the header the Streamlit wrapper packs on a rerun (class names, colouring, the
decoder's key: small); the points (uint16 quantized x, y, uint8 labels: 5 bytes a point, explorer.map_wire), the
codes, the model's ONNX decoder and a selection set here go as custom-message buffers (explorer.notebook.parts),
so a saved notebook keeps none of them. The Streamlit host's item route becomes a kernel request: the page asks
"item/<index>" and gets that item's PNG.

The layout: the codes' PCA at once (explorer.pca), or a UMAP or t-SNE as the app computes it, in a worker process
the kernel watches from a thread (explorer.notebook.layouts, on explorer.analysis.map_jobs: cached on disk, the
latest request wins). Meanwhile the page shows the current points and the job's progress (header.layout_job); the
new points replace them when it is done. Under a PCA layout the page decodes the PCA inverse of the pointer; under
UMAP or t-SNE (no inverse) it decodes the hovered item's own code, when the codes travel (N*D <= max_code_values).

Python hears of a box or lasso on release: `.selection` holds every index inside (the page sends the box or polygon
in quantized units and Python selects with the same arithmetic, explorer.map_wire.select_box / select_lasso).
Setting `.selection` or `.colour_by` here updates the page.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import traitlets

from explorer.analysis.encode_dataset import EncodedSplit, load_encoded
from explorer.cache import array_digest, default_cache_dir
from explorer.images import to_png
from explorer.latent import decode
from explorer.map_wire import (
    FIRST,
    MAX_CODE_VALUES,
    data_bounds,
    pack,
    point_blobs,
    quantize,
    select_box,
    select_lasso,
)
from explorer.models.base import VAE
from explorer.notebook.layouts import BACKGROUND, LABELS, LayoutRequest, LayoutRunner
from explorer.notebook.models import decoder_file, resolve_model
from explorer.notebook.parts import PartsWidget
from explorer.onnx.export import OnnxExportError
from explorer.pca import fit_pca
from explorer.runtime.workers import Job

ESM = "big_map_widget.js"
CSS = "big_map.css"
ITEM_ROUTE = "item/"  # the page asks the kernel for "item/<index>" (src/big_map/items.js through host.request)
COLOURS = ("label", "value")
GIVEN = "given"  # the layout of map coordinates passed in (no code behind them to lay out again, or the user's own)


def as_labels(labels: Sequence | np.ndarray | None, n: int,
              class_names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(N,) int labels in [0, K) and their K names, from ints (negative: "unlabelled", the encoders' UNLABELLED),
    strings or None (one class, "all")."""
    if labels is None:
        return np.zeros(n, np.int64), list(class_names or ["all"])
    raw = np.asarray(labels).reshape(-1)
    if raw.shape[0] != n:
        raise ValueError(f"{n} points need {n} labels, got {raw.shape[0]}")
    if raw.dtype.kind not in "iub":
        names, inverse = np.unique(raw.astype(str), return_inverse=True)
        return inverse.astype(np.int64), [str(s) for s in names]
    lab = raw.astype(np.int64)
    k = int(lab.max()) + 1 if n else 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(max(k, 1))]
    if len(names) < k:
        raise ValueError(f"labels go up to {k - 1} but only {len(names)} class names were given")
    if (lab < 0).any():  # unlabelled items: one more class after the named ones
        lab = np.where(lab < 0, len(names), lab)
        names = [*names, "unlabelled"]
    return lab, names


def _image_array(image: Any) -> np.ndarray:
    """One item image as (C, H, W) or (H, W) float in [0, 1] (to_png's input) from a tensor or array: channels
    first or last, float in [0, 1] or uint8."""
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    if a.ndim == 3 and a.shape[-1] in (1, 3, 4) and a.shape[0] not in (1, 3, 4):
        a = np.moveaxis(a, -1, 0)
    return a.astype(np.float32)


class LatentMap(PartsWidget):
    """The million-point map: `LatentMap(encoding_or_codes, images=None, labels=None, model=None)`.

    encoding_or_codes: an explorer.analysis.encode_dataset.EncodedSplit (or its folder): its codes, labels and
    ELBO; or an array (N, 2) of map coordinates; or codes (N, D), D > 2 (any latent shape, flattened), mapped by
    the project's PCA (explorer.pca.fit_pca). images: the items' images (an array or tensor (N, ...), or a
    function index -> image), shown when the pointer rests on an item; labels (N,): ints or strings (default: the
    encoding's); model: a VAE or a folder from_pretrained loads, whose decoder paints the hovered code in the page
    (the item's own code when N*D <= max_code_values, else the PCA inverse of the pointer); codes: the items'
    codes when the first argument is map coordinates; values (N,): a continuous colour (default for an encoding:
    its ELBO), named value_name. `.selection`: the selected indices (int64, ascending); `.colour_by`: "label" or
    "value" (or an (N,) array: new values, then "value"); `.path`: where the page decodes.

    layout: "pca" (at once; the default for codes), or "umap" / "tsne" computed from the codes in the background
    (PCA shown meanwhile; `layout_params`, `fit_size` and `seed` as explorer.analysis.maps.compute_map takes them).
    Setting `.layout`, or `compute_layout(method, **params)`, asks for another; `.shown_layout` is the one on the
    page, `.layout_job` the background job (explorer.runtime.workers.Job: progress(), stage, error);
    `wait_layout()` blocks until it ends."""

    selection = traitlets.Any()  # numpy int64 (M,) ascending: every index inside the page's box or lasso, or as set
    colour_by = traitlets.Any("label")  # "label" | "value"
    layout = traitlets.Unicode("pca")  # the layout asked for: "pca" | "umap" | "tsne" ("given": coordinates passed in)

    def __init__(self, encoding_or_codes: EncodedSplit | str | Path | np.ndarray | torch.Tensor,
                 images: Sequence | np.ndarray | torch.Tensor | Callable[[int], Any] | None = None,
                 labels: Sequence | np.ndarray | None = None, model: VAE | str | Path | None = None, *,
                 codes: np.ndarray | None = None, values: np.ndarray | None = None, value_name: str = "value",
                 class_names: Sequence[str] | None = None, colour_by: str = "label", height: int = 600,
                 width: int | None = None, max_code_values: int = MAX_CODE_VALUES, layout: str | None = None,
                 layout_params: dict[str, float] | None = None, fit_size: int | None = None, seed: int = 0,
                 cache_dir: str | Path | None = None) -> None:
        if isinstance(encoding_or_codes, (str, Path)):
            encoding_or_codes = load_encoded(encoding_or_codes)
        if isinstance(encoding_or_codes, EncodedSplit):
            enc = encoding_or_codes
            given = enc.means
            labels = enc.labels if labels is None else labels
            if values is None:
                values, value_name = enc.elbo, "ELBO (nats)"
        else:
            given = encoding_or_codes
        given = given.detach().cpu().numpy() if isinstance(given, torch.Tensor) else np.asarray(given)
        if given.ndim < 2 or given.shape[0] == 0:
            raise ValueError("encoding_or_codes must be an EncodedSplit (or its folder), map coordinates (N, 2) or "
                             f"codes (N, D); got an array of shape {given.shape}")
        n = given.shape[0]
        flat = given.reshape(n, -1)
        self.model, self.digest = resolve_model(model) if model is not None else (None, "")
        d = int(np.prod(self.model.latent_shape)) if self.model is not None else None
        self.pca = None
        self._coords_are_codes = flat.shape[1] == 2 and codes is None and d in (None, 2)  # a 2-D latent space
        if flat.shape[1] == 2 and codes is None and d not in (None, 2):
            self.codes = None  # map coordinates of a model with more dimensions: no code under the pointer
        elif flat.shape[1] == 2 and codes is None:
            self.codes = flat  # a 2-D latent space: the map is the codes
        elif flat.shape[1] == 2:
            self.codes = np.asarray(codes).reshape(n, -1)
        else:
            self.codes = flat
        self._given: np.ndarray | None = None  # (N, 2) coordinates passed in: the layout "given", to come back to
        if flat.shape[1] == 2:
            self.coords, self.shown_layout = flat.astype(np.float64), GIVEN
            self._given = self.coords
        else:
            self.pca = fit_pca(flat)
            self.coords, self.shown_layout = self.pca.coords, "pca"
        if self.codes is not None and d is not None and self.codes.shape[1] != d:
            raise ValueError(f"the codes have {self.codes.shape[1]} numbers each but the model's latent shape "
                             f"{tuple(self.model.latent_shape)} holds {d}")
        self.labels, self.class_names = as_labels(labels, n, class_names)
        self.values = None if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
        if self.values is not None and self.values.shape[0] != n:
            raise ValueError(f"{n} points need {n} values, got {self.values.shape[0]}")
        self.value_name = str(value_name)
        self.images = images
        self.max_code_values = int(max_code_values)
        self.bounds = data_bounds(self.coords)
        self.q = quantize(self.coords, self.bounds)  # (N, 2) uint16: what the page holds and selects on
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "onnx"
        self._lock = threading.RLock()  # the points (coords, q, data) change in the layout's watching thread too
        self._runner = None if self.codes is None else LayoutRunner(
            self.codes, self.digest, cache_dir if cache_dir is not None else default_cache_dir(),
            on_status=self._layout_status, on_coords=self._layout_done)
        self.path, self.reason = "pending", ""
        self.clicked: int | None = None
        self.hovered: int | None = None
        self.page_selection: dict | None = None  # the page's last report (kind, total, counts, first, box...)
        self._from_page = False
        self._selections = 0
        super().__init__(ESM, CSS)
        header: dict[str, Any] = {"class_names": self.class_names, "value_name": self.value_name, "colour": "label",
                                  "height": int(height), "width": int(width) if width else None, "first": FIRST}
        parts: dict[str, str] = {}
        if self.images is not None:
            header["item_url"] = ITEM_ROUTE
        if self.model is not None and (self.codes is not None or self.pca is not None):
            try:  # exported now, so that the page's first paint, which waits for every part, never waits for it
                onnx = decoder_file(self.model, self.digest, self.cache_dir)
            except OnnxExportError as exc:
                self.path, self.reason = "none", f"the decoder could not be exported for the page: {exc}"
            else:
                key = self.digest[:16]  # the decoder's part key: LatentWalk's too, so the page holds it once
                image_shape = decode(self.model, np.zeros(d)).shape[1:]  # (C, H, W)
                header.update(model_key=key, image_shape=[int(s) for s in image_shape])
                self.parts[key] = onnx.read_bytes
                parts["decoder_url"] = key
        if self._runner is not None:  # the page offers the layouts in a selector (host.set("layout", name))
            given = [{"value": GIVEN, "label": "as given"}] if self.shown_layout == GIVEN else []
            header["layouts"] = given + [{"value": m, "label": LABELS[m]} for m in ("pca", *BACKGROUND)]
            header["layout"] = self.shown_layout
        self.data = {"header": header, "parts": parts}
        self._set_points()
        self.selection = np.zeros(0, np.int64)
        self.colour_by = colour_by
        self.observe(self._selection_set, names="selection")
        self.observe(self._colour_set, names="colour_by")
        self._colour_set({"new": self.colour_by})
        self.set_trait("layout", self.shown_layout)
        self.observe(self._layout_set, names="layout")
        if layout is not None and layout != self.shown_layout:
            self.compute_layout(layout, seed=seed, fit_size=fit_size, **(layout_params or {}))

    # -- the points ---------------------------------------------------------------------------------------
    def _set_points(self) -> None:
        """Name the points part (a BMAP payload: the points' blobs and the header fields that describe them) in
        data; its key follows the points, so a map of the same points elsewhere on the page shares them, and ends
        with the layout's name (":pca", ":umap", ...)."""
        decodes = "model_key" in self.data["header"]
        sends_codes = decodes and self.codes is not None and self.codes.size <= self.max_code_values
        data_key = "map:" + array_digest(self.q, self.labels, *(() if self.values is None else (self.values,)),
                                 *((self.codes,) if sends_codes else ()), dtype=None) + f":{self.shown_layout}"
        header = {**self.data["header"], "data_key": data_key, "n": int(len(self.q)), "bounds": list(self.bounds),
                  "has_codes": bool(sends_codes)}

        coords, values, bounds, shown = self.coords, self.values, self.bounds, self.shown_layout

        def payload() -> bytes:  # made when the page asks: from these points, even if others replaced them since
            blobs, meta = point_blobs(coords, self.labels, values, bounds, len(self.class_names))
            fields: dict[str, Any] = {"data_key": data_key, "points": True, **meta}
            if sends_codes:
                blobs["codes"] = np.asarray(self.codes, dtype=np.float16)
                fields["code_dim"] = int(self.codes.shape[1])
            if self.pca is not None and shown == "pca":  # the code under the pointer: mean + x c0 + y c1
                fields["pca_mean"] = self.pca.mean.tolist()
                fields["pca_components"] = self.pca.components.tolist()
            elif self._coords_are_codes and shown == GIVEN:  # a 2-D latent space: the pointer is the code
                fields["pca_mean"], fields["pca_components"] = [0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]
            return pack(fields, blobs)

        self.parts[data_key] = payload
        self.data = {"header": header, "parts": {**self.data["parts"], "points": data_key}}

    # -- the page's reports -------------------------------------------------------------------------------
    def _on_set(self, name: str, value: Any) -> None:
        if name == "status":
            status = value or {}
            self.path, self.reason = str(status.get("path", "pending")), str(status.get("reason") or "")
        elif name == "selection":
            self._page_selected(value)
        elif name == "clicked" and isinstance(value, dict) and value.get("index") is not None:
            self.clicked = int(value["index"])
        elif name == "hover" and isinstance(value, dict):
            self.hovered = None if value.get("index") is None else int(value["index"])
        elif name == "layout" and self._runner is not None:  # the page's layout selector
            try:
                self.layout = str(value)
            except traitlets.TraitError:
                pass  # not a layout this map offers: the page's selector goes back to .layout with the next data
        elif name == "colour" and value in COLOURS:
            self._from_page = True
            try:
                self.colour_by = value
            finally:
                self._from_page = False

    def _page_selected(self, sel: Any) -> None:
        """The page's box or lasso (quantized units) -> every index inside, by the page's own arithmetic."""
        with self._lock:
            if isinstance(sel, dict) and sel.get("data_key") not in (None, self.data["header"]["data_key"]):
                return  # a report about points this widget no longer shows
            if isinstance(sel, dict) and sel.get("kind") == "box" and sel.get("qbox"):
                inside = select_box(self.q, sel["qbox"])
            elif isinstance(sel, dict) and sel.get("kind") == "lasso" and sel.get("qpolygon"):
                inside = select_lasso(self.q, sel["qpolygon"])
            else:
                inside, sel = np.zeros(0, np.int64), None
        self.page_selection = sel
        self._from_page = True
        try:
            self.selection = inside
        finally:
            self._from_page = False

    def _answer(self, url: str) -> tuple[bytes, str]:
        if self.images is None or not url.startswith(ITEM_ROUTE) or not url[len(ITEM_ROUTE):].isdigit():
            raise ValueError(f"no route {url!r} in this map")
        index = int(url[len(ITEM_ROUTE):])
        if not 0 <= index < len(self.q):
            raise ValueError(f"no item {index} (there are {len(self.q)})")
        image = self.images(index) if callable(self.images) else self.images[index]
        return to_png(_image_array(image)), "image/png"

    # -- setting .selection and .colour_by from Python ---------------------------------------------------------
    @traitlets.validate("selection")
    def _valid_selection(self, proposal: dict) -> np.ndarray:
        """Indices (any integer sequence or a boolean mask (N,)) as unique int64, ascending; refused outside [0, N)."""
        raw = np.asarray(proposal["value"] if proposal["value"] is not None else [])
        n = len(self.q)
        if raw.dtype == bool:
            if raw.shape != (n,):
                raise traitlets.TraitError(f"a boolean .selection must have shape ({n},), got {raw.shape}")
            return np.flatnonzero(raw)
        if raw.size and raw.dtype.kind not in "iu":
            raise traitlets.TraitError(f".selection must be integer indices or a boolean mask, got {raw.dtype}")
        out = np.unique(raw.astype(np.int64).reshape(-1))
        if out.size and (out[0] < 0 or out[-1] >= n):
            raise traitlets.TraitError(f".selection indices must lie in [0, {n}), got {out[0]}..{out[-1]}")
        return out

    def _selection_set(self, change: dict) -> None:
        if not self._from_page:
            self._send_selection(np.asarray(change["new"]))

    def _send_selection(self, sel: np.ndarray) -> None:
        """The selection (M,) as the page's `selected` part under a new selection key (none when M is 0)."""
        with self._lock:
            self._selections += 1
            parts = {k: v for k, v in self.data["parts"].items() if k != "selected"}
            for key in [k for k in self.parts if k.startswith("sel:")]:
                del self.parts[key]
            if sel.size:
                raw = sel.astype("<u4").tobytes()
                key = f"sel:{hashlib.sha256(raw).hexdigest()[:16]}"
                self.parts[key] = lambda: raw
                parts["selected"] = key
            self.page_selection = None
            header = {**self.data["header"], "selection_key": f"{self._selections}:{parts.get('selected', 'none')}"}
            self.data = {"header": header, "parts": parts}

    @traitlets.validate("colour_by")
    def _valid_colour(self, proposal: dict) -> str:
        value = proposal["value"]
        if not isinstance(value, str):  # new values: the points are sent again with them
            v = np.asarray(value, dtype=np.float64).reshape(-1)
            if v.shape[0] != len(self.q):
                raise traitlets.TraitError(f".colour_by values must hold {len(self.q)} numbers, got {v.shape[0]}")
            self.values = v
            if "points" in self.data.get("parts", {}):
                self._set_points()
            return "value"
        if value not in COLOURS:
            raise traitlets.TraitError(f".colour_by must be one of {COLOURS} or an array of {len(self.q)} values, "
                                       f"got {value!r}")
        if value == "value" and self.values is None:
            raise traitlets.TraitError('.colour_by = "value" needs values: LatentMap(..., values=...) or '
                                       ".colour_by = an array")
        return value

    def _colour_set(self, change: dict) -> None:
        with self._lock:
            if self.data["header"].get("colour") != change["new"]:
                self.data = {**self.data, "header": {**self.data["header"], "colour": change["new"]}}

    # -- the layout ---------------------------------------------------------------------------------------------
    @traitlets.validate("layout")
    def _valid_layout(self, proposal: dict) -> str:
        value = proposal["value"]
        if value == GIVEN and self._given is not None:
            return value  # the coordinates passed in
        if value not in ("pca", *BACKGROUND):
            raise traitlets.TraitError(f".layout must be one of {('pca', *BACKGROUND)}, got {value!r}")
        if self._runner is None:
            raise traitlets.TraitError("this map has no codes to lay out: LatentMap(codes (N, D), ...) or "
                                       "LatentMap(coords, codes=...)")
        return value

    def _layout_set(self, change: dict) -> None:
        current = None if self._runner is None else self._runner.current
        if self._runner is not None and change["new"] != (self.shown_layout if current is None else current.method):
            self.compute_layout(change["new"])

    def compute_layout(self, method: str, *, seed: int = 0, fit_size: int | None = None,
                       **params: float) -> LayoutRequest | None:
        """Lay the points out by `method`: "pca" (or "given": the coordinates passed in) at once, a running job
        cancelled; "umap" or "tsne" in the background (explorer.notebook.layouts; params as
        explorer.analysis.maps.compute_umap / compute_tsne take them, fit_size: fit on a seeded sample, place the
        rest). Returns the background request (None for one at once)."""
        if self._runner is None:
            raise ValueError("this map has no codes to lay out: LatentMap(codes (N, D), ...) or "
                             "LatentMap(coords, codes=...)")
        if method == GIVEN and self._given is None:
            raise ValueError("this map was given codes, not coordinates: its layouts are pca, umap and tsne")
        if method in ("pca", GIVEN):
            self._runner.cancel()
            if method == "pca" and self.pca is None:
                self.pca = fit_pca(self.codes)
            self._use_coords(self.pca.coords if method == "pca" else self._given, method, None)
            request = None
        elif method in BACKGROUND:
            request = self._runner.request(method, seed=seed, fit_size=fit_size, **params)
        else:
            raise ValueError(f"layout must be one of {('pca', *BACKGROUND)}, got {method!r}")
        self.set_trait("layout", method)
        with self._lock:
            self.data = {**self.data, "header": {**self.data["header"], "layout": method}}
        return request

    @property
    def layout_job(self) -> Job | None:
        """The background job of the latest UMAP / t-SNE request (None before one, or after PCA was asked for)."""
        current = None if self._runner is None else self._runner.current
        return None if current is None else current.job

    def wait_layout(self, timeout: float | None = None) -> bool:
        """Block until the latest background layout ended (its points shown, or failed); False on timeout. Not in a
        cell of the notebook that shows the map: a waiting cell holds the page's messages back."""
        current = None if self._runner is None else self._runner.current
        return True if current is None else current.finished.wait(timeout)

    def _layout_status(self, status: dict) -> None:
        """A background layout's progress or end, for the page (header.layout_job)."""
        with self._lock:
            shown = {**status, "showing": LABELS.get(self.shown_layout, "given")}
            self.data = {**self.data, "header": {**self.data["header"], "layout_job": shown}}

    def _layout_done(self, coords: np.ndarray, method: str) -> None:
        self._use_coords(coords, method, self._runner.current)

    def _use_coords(self, coords: np.ndarray, method: str, request: LayoutRequest | None) -> None:
        """New points: the layout's (N, 2) coordinates, quantized in their own bounds; the selection is kept (it
        goes to the page again, as one set here)."""
        with self._lock:
            self.coords = np.asarray(coords, dtype=np.float64)
            self.bounds = data_bounds(self.coords)
            self.q = quantize(self.coords, self.bounds)
            self.shown_layout = method
            if request is None:
                self.data = {**self.data, "header": {k: v for k, v in self.data["header"].items() if k != "layout_job"}}
            self._set_points()
            self.page_selection = None
            self._send_selection(np.asarray(self.selection))
