"""Latent map page, big path: a stored encoding is offered and drawn by the big-map component, a map beyond
memory is refused with its size, a selection (injected as the page would report it) gives counts per label and
a gallery equal to numpy's selection on the same quantized coords, search by index or label, colours from the
encoding, the originals, and "Send to latent walk". AppTest cannot run the component (tests/browser/
test_map_page_big.py drives it in Chromium)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.apptest_helpers import errors, image_by_caption, open_app
from tests.support.stored_encodings import real_encoding, spread_encoding

N = 20_000


@pytest.fixture(scope="session")
def encodings(models, cache_dir) -> dict[str, object]:
    model = models["tiny-conv-mnist5k"]
    real = real_encoding(model, cache_dir)
    return {"real": real, "spread": spread_encoding(model, cache_dir, N, real, attributes=True)}


def _open_points(at, starts: str):
    box = at.selectbox(key="map_points")
    box.set_value(next(o for o in box.options if o.startswith(starts))).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _big(at) -> list:
    return [e for e in at.main if getattr(e, "type", None) == "bidi_component" and getattr(e, "key", None) == "bigmap"]


def _inject(at, **state):
    at.session_state["bigmap"] = state
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _page_coords(folder):
    """The PCA coords and quantized positions the page draws (the same functions, computed here)."""
    from explorer.analysis.encode_dataset import load_encoded
    from explorer.pca import fit_pca
    from ui.components.bigmap import data_bounds, quantize

    enc = load_encoded(folder)
    coords = fit_pca(enc.means).coords.astype(np.float32)
    return enc, quantize(coords, data_bounds(coords))


def test_stored_encodings_are_offered_and_drawn_by_the_big_map(app_env, encodings):
    at = open_app(app_env["tiny-conv-mnist5k"], "map")
    options = at.selectbox(key="map_points").options
    assert options[0].startswith("test items of mnist5k")
    assert f"spread{N} test split, {N:,} items" in options and "mnist5k test split, 500 items" in options
    assert at.get("plotly_chart") and not _big(at)  # the test items: the Plotly map
    _open_points(at, f"spread{N}")
    assert not errors(at)
    assert _big(at) and not at.get("plotly_chart")
    assert any(c.value.startswith(f"{N:,} items of spread{N} test") for c in at.caption)
    assert any("server's decode of the item follows" in c.value for c in at.caption)  # no originals for it
    at2 = open_app(app_env["tiny-mlp-2d"], "map")  # no stored encoding: how to make one
    assert len(at2.selectbox(key="map_points").options) == 1
    assert any("--encode-only" in c.value for c in at2.caption)


def test_a_map_beyond_memory_is_refused_with_the_size_it_needs(app_env, encodings, monkeypatch):
    from explorer.analysis import maps

    with monkeypatch.context() as patch:
        patch.setattr(maps, "available_memory_bytes", lambda: 1 << 20)
        at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), f"spread{N}")
        said = errors(at)
        assert said and said[0].startswith(f"This map is refused: a PCA map of {N:,} codes of 8 dimensions needs "
                                           "about 12.0 MB but 0.0 MB is available, once its codes are loaded (1.6 MB)"), said
        assert not _big(at)
        at.radio(key="map_method").set_value("UMAP").run()
        said = errors(at)
        assert said and f"a UMAP map of {N:,} codes" in said[0] and not _big(at)
        at.radio(key="map_method").set_value("PCA").run()
    at.run()
    assert not errors(at) and _big(at)  # the same request, with the memory there


def test_box_and_lasso_selections_give_counts_and_the_gallery(app_env, encodings):
    from ui.components.bigmap import select_box, select_lasso

    enc, q = _page_coords(encodings["spread"])
    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), f"spread{N}")
    qbox = [10_000, 12_000, 40_000, 45_000]
    _inject(at, selection={"kind": "box", "total": 0, "counts": [], "first": [], "qbox": qbox})
    inside = select_box(q, qbox)
    assert 100 < inside.size < N
    assert any(s.value == f"Box selection: {inside.size:,} points" for s in at.subheader)
    table = at.dataframe[0].value
    expected = np.bincount(enc.labels[inside], minlength=10)
    assert dict(zip(table["label"], table["points"])) == {str(k): int(c) for k, c in enumerate(expected) if c}
    gallery = next(e for e in at.get("image") if len(e.value) == 24)
    assert [c.split(":")[0] for c in gallery.captions] == [str(i) for i in inside[:24]]
    assert [c.split(": ")[1] for c in gallery.captions] == [str(enc.labels[i]) for i in inside[:24]]
    poly = [[5_000.0, 5_000.0], [60_000.0, 20_000.0], [30_000.0, 60_000.0]]
    _inject(at, selection={"kind": "lasso", "total": 0, "counts": [], "first": [], "qbox": [5000, 5000, 60000, 60000],
                           "qpolygon": poly})
    inside = select_lasso(q, poly)
    assert any(s.value == f"Lasso selection: {inside.size:,} points" for s in at.subheader)


def test_search_by_index_and_label_and_send_to_walk(app_env, encodings, media):
    enc, _ = _page_coords(encodings["spread"])
    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), f"spread{N}")
    at.text_input(key="bigmap_find").set_value("1234").run()
    assert any(s.value == f"Item 1234 ({enc.labels[1234]})" for s in at.subheader)
    assert media.get(image_by_caption(at, "decoded posterior mean"))
    at.button(key="bigmap_send").click().run()
    assert not at.exception
    sent = at.session_state["walk_from_map"]
    assert sent["index"] == 1234 and np.allclose(sent["code"], enc.means[1234])
    assert at.radio(key="walk_start").value == "map point"
    assert any(f"map point 1234 of spread{N} test" in c.value for c in at.caption)
    from ui.pages.map.big import _search

    names = [str(k) for k in range(10)] + ["unlabelled"]
    index, members, message = _search("unlab", names, np.array([10, 3, 10, 1]))
    assert index is None and members.tolist() == [0, 2] and not message
    assert "no item 99" in _search("99", names, np.array([1, 2]))[2]
    assert "no label 'cat'" in _search("cat", names, np.array([1, 2]))[2]


def test_colour_by_label_value_or_attribute(app_env, encodings):
    from explorer.analysis.encode_dataset import load_encoded
    from ui.pages.map.big import colour_values

    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), f"spread{N}")
    box = at.selectbox(key="bigmap_colour")
    assert box.options == ["label", "ELBO", "KL", "ELBO percentile", "attribute: upper", "attribute: even"]
    for choice in box.options[1:]:
        at.selectbox(key="bigmap_colour").set_value(choice).run()
        assert not at.exception and not errors(at) and _big(at)
    enc = load_encoded(encodings["spread"])
    pct, name = colour_values(enc, "ELBO percentile")
    order = np.argsort(enc.elbo, kind="stable")
    assert name == "ELBO percentile" and pct[order[0]] == 0 and pct[order[-1]] == 100
    assert np.all(np.diff(pct[order]) > 0)
    even, name = colour_values(enc, "attribute: even")
    assert name == "even" and np.array_equal(even, (enc.labels % 2 == 0).astype(np.float32))
    assert colour_values(enc, "label") == (None, "")


def test_a_real_encoding_shows_the_items_originals(app_env, encodings, media):
    from tests.support.checkpoints import load
    from explorer.images import to_uint8

    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), "mnist5k test split")
    assert any("the item's original from mnist5k follows from the server" in c.value for c in at.caption)
    _inject(at, clicked={"index": 3})
    shown = media.array(image_by_caption(at, "original"))
    image = load("mnist5k").test[3][0]
    assert np.array_equal(shown, to_uint8(image, shown.shape[0] // image.shape[-1]))


def test_served_with_the_item_route_the_page_registers_the_items_originals(app_env, encodings, monkeypatch):
    """Under ui/entry/serve.py the page hands the component a URL whose GET is the item's original as a PNG."""
    import io

    from PIL import Image

    from tests.support.checkpoints import load
    from explorer.images import to_uint8
    from ui.services import itemserver

    monkeypatch.setattr(itemserver, "_mounted", True)
    monkeypatch.setattr(itemserver, "_by_token", itemserver.OrderedDict())
    monkeypatch.setattr(itemserver, "_by_session", {})
    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), "mnist5k test split")
    at.run()  # a rerun keeps the token
    ((token, source),) = itemserver._by_token.items()
    assert source.count == 500 and itemserver.lookup(token, 3) == (source, "")
    shown = np.asarray(Image.open(io.BytesIO(source.image(3))))
    image = load("mnist5k").test[3][0]
    assert np.array_equal(shown, to_uint8(image, shown.shape[0] // image.shape[-1]).squeeze())
    assert itemserver.lookup(token, 500)[0] is None


def test_a_direction_between_groups_as_the_horizontal_axis(app_env, encodings):
    from explorer.latent import attribute_axes
    from ui.pages.map.big import direction_choices, direction_plane

    enc, _ = _page_coords(encodings["spread"])
    names = [str(k) for k in range(10)]
    choices = direction_choices(names, enc.attribute_names)
    assert choices[:3] == ["PCA 1", "attribute: upper", "attribute: even"] and "3 → 8" in choices and len(choices) == 48
    coords, plane, mean, title = direction_plane(enc, names, enc.labels, "3 → 8")
    u = attribute_axes(enc.means, enc.labels, [(3, 8)], names).vectors[0]
    assert title == "3 → 8" and np.allclose(plane[0], u) and abs(plane[0] @ plane[1]) < 1e-6
    assert np.allclose(mean, enc.means.astype(np.float64).mean(0), atol=1e-5)
    assert np.allclose(coords[:, 0], (enc.means - mean) @ u, atol=1e-4)
    # the mean code of the 8s sits further along x than that of the 3s, by the distance between the means
    gap = coords[enc.labels == 8, 0].mean() - coords[enc.labels == 3, 0].mean()
    assert np.isclose(gap, np.linalg.norm(enc.means[enc.labels == 8].mean(0) - enc.means[enc.labels == 3].mean(0)), rtol=1e-3)
    at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), f"spread{N}")
    at.selectbox(key="bigmap_axis").set_value("attribute: even").run()
    assert not at.exception and not errors(at) and _big(at)
    assert any("x: the direction even" in c.value for c in at.caption)


def test_a_torn_encoding_gets_a_message_and_the_page_keeps_serving(app_env, encodings, cache_dir):
    import shutil

    src = encodings["spread"]
    torn = src.with_name("torn20000-test-0000000000000000")
    shutil.copytree(src, torn)
    try:
        import json

        manifest = json.loads((torn / "manifest.json").read_text())
        (torn / "manifest.json").write_text(json.dumps({**manifest, "info": {**manifest["info"], "dataset": "torn"}}))
        shard = torn / manifest["shards"][0]
        shard.write_bytes(shard.read_bytes()[:100])
        at = _open_points(open_app(app_env["tiny-conv-mnist5k"], "map"), "torn test split")
        said = errors(at)
        assert said and said[0].startswith("The stored encoding torn test split, 20,000 items could not be read:"), said
        assert "missing or torn" in said[0] and not _big(at)
        _open_points(at, "test items of")
        assert not at.exception and at.get("plotly_chart")
    finally:
        shutil.rmtree(torn)


@pytest.mark.slow  # a worker process encodes 500 items (~10 s with its imports)
def test_the_whole_test_split_is_encoded_here_then_offered(app_env, tmp_path, monkeypatch):
    import time

    from explorer.analysis.encode_dataset import load_encoded
    from explorer.analysis import map_jobs as mapjobs

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = open_app(app_env["tiny-conv-mnist5k"], "map")
    assert len(at.selectbox(key="map_points").options) == 1
    at.button(key="map_encode").click().run()
    assert not at.exception and not errors(at)
    jobs = [j for j in mapjobs.JOBS.jobs.values() if j.method == "encode" and str(app_env["tiny-conv-mnist5k"]) in j.key]
    assert len(jobs) == 1
    deadline = time.time() + 180
    while not jobs[0].done and time.time() < deadline:
        time.sleep(0.1)
    try:
        assert jobs[0].done and jobs[0].error is None, jobs[0].error
        at.run()
        options = at.selectbox(key="map_points").options
        assert "mnist5k test split, 500 items" in options
        assert not [b for b in at.button if b.key == "map_encode"]  # stored: no button any more
        _open_points(at, "mnist5k test split")
        assert _big(at) and not errors(at)
        # the same cache entry as `vae-evaluate MODEL --dataset mnist5k --encode-only` fills
        from explorer.analysis.encode_dataset import encode_folder
        from explorer.cache import weights_digest

        folder = encode_folder(weights_digest(app_env["tiny-conv-mnist5k"]), "mnist5k", "test",
                               {"batch_size": 50, "limit": None}, tmp_path / "cache")
        assert len(load_encoded(folder)) == 500
    finally:
        mapjobs.JOBS.jobs.pop(jobs[0].key, None)


def test_a_captioning_models_encoding_colours_by_caption_word():
    """A Pu model's stored encoding holds which words each item's sampled caption has: one colour per word."""
    from explorer.analysis.encode_dataset import EncodedSplit
    from ui.pages.map.big import colour_options, colour_values

    n = 6
    words = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]], np.uint8)
    enc = EncodedSplit(np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32), np.zeros(n, np.float32),
                       np.zeros(n, np.float32), np.zeros(n, np.int64), None, None, Path("."), words,
                       ["red", "circle"])
    options = colour_options(enc)
    assert options[-2:] == ["caption word: red", "caption word: circle"]
    values, name = colour_values(enc, "caption word: circle")
    assert values.tolist() == [0, 1, 1, 0, 0, 1] and name == "'circle' in its caption"
    plain = EncodedSplit(enc.means, enc.logvars, enc.elbo, enc.kl, enc.labels, None, None, Path("."))
    assert not any(o.startswith("caption word") for o in colour_options(plain))
