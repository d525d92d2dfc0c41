"""LatentMap's Python side without a browser: the points travel as one buffer, a box or lasso from the page becomes
every index inside, `.selection` and `.colour_by` set here reach the page's data, and the item route answers with
the item's PNG (the page side: tests/browser/test_notebook_walk.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import traitlets
from matplotlib.path import Path as Polygon
from PIL import Image

from explorer.checkpoint import from_pretrained
from explorer.map_wire import Q, unpack
from explorer.notebook import LatentMap

MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "conv-mnist5k"
N = 4000


@pytest.fixture(scope="module")
def codes():
    return np.random.default_rng(0).standard_normal((N, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, (N, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def model():
    return from_pretrained(MODEL)


@pytest.fixture(scope="module")
def bigmap(codes, images, model, tmp_path_factory):  # one map: each test sets the state it reads
    labels = np.random.default_rng(2).integers(0, 10, N)
    return LatentMap(codes, images=images, labels=labels, model=model, values=codes[:, 0],
                     cache_dir=tmp_path_factory.getbasetemp() / "onnx")


def sent(widget, monkeypatch) -> list:
    out = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: out.append((content, buffers)))
    return out


def quantized(coords, bounds) -> np.ndarray:
    """The page's quantization, written out here: round((c - lo) / (hi - lo) * Q) per axis."""
    x0, y0, x1, y1 = bounds
    return np.stack([np.rint((coords[:, 0] - x0) / (x1 - x0) * Q), np.rint((coords[:, 1] - y0) / (y1 - y0) * Q)], 1)


def test_points_and_pca_travel_as_one_buffer(bigmap, codes, monkeypatch):
    out = sent(bigmap, monkeypatch)
    key = bigmap.data["parts"]["points"]
    bigmap._message(bigmap, {"type": "need", "keys": [key]}, [])
    (content, buffers), = out
    assert content == {"type": "parts", "keys": [key]}
    header, blobs = unpack(bytes(buffers[0]))
    q = quantized(bigmap.coords, header["bounds"])
    np.testing.assert_array_equal(blobs["qx"], q[:, 0])
    np.testing.assert_array_equal(blobs["qy"], q[:, 1])
    np.testing.assert_array_equal(blobs["label"], bigmap.labels)
    assert header["n"] == N and header["points"] and header["data_key"] == key
    # the map is the codes' PCA: the pointer's code is mean + x c0 + y c1, and the codes go too (N*D is small)
    centred = codes.astype(np.float64) - codes.mean(0)
    np.testing.assert_allclose(centred @ np.asarray(header["pca_components"]).T, bigmap.coords, atol=1e-6)
    np.testing.assert_allclose(blobs["codes"].astype(np.float32).reshape(N, 16), codes, rtol=1e-3, atol=1e-4)
    assert len(json.dumps(bigmap.data)) < 5_000  # the synced state holds no points


def test_a_box_from_the_page_selects_every_index_inside(bigmap, monkeypatch):
    out = sent(bigmap, monkeypatch)
    data_before = bigmap.data
    qbox = [20000, 15000, 40000, 36000]
    bigmap._message(bigmap, {"type": "set", "name": "selection", "value": {
        "kind": "box", "qbox": qbox, "total": 0, "data_key": bigmap.data["header"]["data_key"]}}, [])
    q = quantized(bigmap.coords, bigmap.bounds)
    want = np.flatnonzero((q[:, 0] >= qbox[0]) & (q[:, 0] <= qbox[2]) & (q[:, 1] >= qbox[1]) & (q[:, 1] <= qbox[3]))
    assert len(want) > 50
    np.testing.assert_array_equal(bigmap.selection, want)
    assert bigmap.data is data_before and not out  # the page knows its own selection: nothing goes back


def test_a_lasso_from_the_page_selects_every_index_inside(bigmap):
    polygon = [[10000, 10000], [50000, 12000], [30000, 52000]]
    bigmap._message(bigmap, {"type": "set", "name": "selection", "value": {"kind": "lasso", "qpolygon": polygon}}, [])
    q = quantized(bigmap.coords, bigmap.bounds)
    want = np.flatnonzero(Polygon(polygon).contains_points(q))
    assert len(want) > 50
    np.testing.assert_array_equal(bigmap.selection, want)
    bigmap._message(bigmap, {"type": "set", "name": "selection", "value": None}, [])  # Clear in the page
    assert bigmap.selection.size == 0


def test_selection_set_here_reaches_the_page_as_a_part(bigmap, monkeypatch):
    bigmap.selection = [7, 3, 3, 900]
    key = bigmap.data["parts"]["selected"]
    first = bigmap.data["header"]["selection_key"]
    out = sent(bigmap, monkeypatch)
    bigmap._message(bigmap, {"type": "need", "keys": [key]}, [])
    assert np.frombuffer(bytes(out[0][1][0]), "<u4").tolist() == [3, 7, 900]
    mask = np.zeros(N, bool)
    mask[[5, 6]] = True
    bigmap.selection = mask
    np.testing.assert_array_equal(bigmap.selection, [5, 6])
    assert bigmap.data["header"]["selection_key"] != first
    bigmap.selection = []
    assert "selected" not in bigmap.data["parts"] and bigmap.data["header"]["selection_key"].endswith(":none")
    with pytest.raises(traitlets.TraitError, match=r"lie in \[0, 4000\)"):
        bigmap.selection = [N]


def test_colour_by(bigmap, monkeypatch):
    bigmap.colour_by = "value"
    assert bigmap.data["header"]["colour"] == "value"
    bigmap._message(bigmap, {"type": "set", "name": "colour", "value": "label"}, [])  # the page's toggle
    assert bigmap.colour_by == "label" and bigmap.data["header"]["colour"] == "label"
    old = bigmap.data["parts"]["points"]
    new_values = np.arange(N, dtype=np.float64)
    bigmap.colour_by = new_values  # new values: the points go again, with them
    assert bigmap.colour_by == "value" and bigmap.data["parts"]["points"] != old
    out = sent(bigmap, monkeypatch)
    bigmap._message(bigmap, {"type": "need", "keys": [bigmap.data["parts"]["points"]]}, [])
    header, blobs = unpack(bytes(out[0][1][0]))
    np.testing.assert_array_equal(blobs["value"], np.rint(new_values / (N - 1) * 255).astype(np.uint8))
    assert header["value_range"] == [0.0, N - 1.0]
    with pytest.raises(traitlets.TraitError, match="must be one of"):
        bigmap.colour_by = "size"


def test_the_item_route_answers_with_the_items_png(bigmap, images, monkeypatch):
    out = sent(bigmap, monkeypatch)
    bigmap._message(bigmap, {"type": "request", "id": 4, "url": "item/123"}, [])
    bigmap._message(bigmap, {"type": "request", "id": 5, "url": f"item/{N}"}, [])
    (ok, body), (bad, _) = out
    assert ok == {"type": "response", "id": 4, "ok": True, "mime": "image/png"}
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(bytes(body[0])))), images[123])
    assert bad["ok"] is False and "no item" in bad["error"]


def test_two_d_coordinates_and_string_labels(tmp_path):
    rng = np.random.default_rng(3)
    coords = rng.uniform(-5, 5, (500, 2))
    m = LatentMap(coords, labels=np.where(coords[:, 0] > 0, "right", "left"))
    assert m.class_names == ["left", "right"] and "model_key" not in m.data["header"]
    np.testing.assert_array_equal(m.coords, coords)
    np.testing.assert_array_equal(m.labels, (coords[:, 0] > 0).astype(int))
    with pytest.raises(ValueError, match="500 points need 500 labels"):
        LatentMap(coords, labels=[0, 1])
    with pytest.raises(ValueError, match="map coordinates"):
        LatentMap(np.zeros(5))
    with pytest.raises(traitlets.TraitError, match="needs values"):
        m.colour_by = "value"


def test_an_encoding_brings_its_labels_and_elbo(codes, tmp_path):
    from explorer.analysis.encode_dataset import EncodedSplit

    labels = np.where(np.arange(N) % 7 == 0, -1, np.arange(N) % 3)  # -1: UNLABELLED
    elbo = -np.linspace(80, 120, N).astype(np.float32)
    enc = EncodedSplit(means=codes, logvars=np.full_like(codes, np.nan), elbo=elbo, kl=np.zeros(N, np.float32),
                       labels=labels, attributes=None, attribute_names=None, folder=tmp_path)
    m = LatentMap(enc, colour_by="value")
    assert m.class_names == ["0", "1", "2", "unlabelled"] and (m.labels[labels < 0] == 3).all()
    np.testing.assert_array_equal(m.values, elbo)
    assert m.value_name == "ELBO (nats)" and m.data["header"]["colour"] == "value"
    assert m.pca is not None and m.coords.shape == (N, 2)
