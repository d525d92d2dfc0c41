"""Latent map page: methods, precomputed and background maps, uploads on the map, the 2-D plane, CSV, selection."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from tests.support.bad_files import digit_like, encode
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page


def _arr(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype": ..., "bdata": base64}."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def _chart(at):
    charts = at.get("plotly_chart")
    assert charts, "no plotly chart on the page"
    return json.loads(charts[0].proto.spec)


def test_pca_map_from_the_checkpoint(conv_model):
    at = open_app(conv_model, "map")
    assert not errors(at)
    spec = _chart(at)
    traces = spec["data"]
    assert all(t["type"] == "scattergl" for t in traces)
    assert sum(len(_arr(t["x"])) for t in traces) == 500  # every mnist5k test item, one trace per digit
    assert {t["name"] for t in traces} == {str(d) for d in range(10)}
    assert any("500 test items of mnist5k" in c.value for c in at.caption)
    assert "Coordinates (CSV)" in [b.label for b in at.get("download_button")]


def test_uploads_are_placed_on_the_map(conv_model):
    at = open_app(conv_model)
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    switch_page(at, "map").run()
    traces = _chart(at)["data"]
    stars = [t for t in traces if t["name"] == "uploads"]
    assert stars and stars[0]["text"] == ["ring.png"] and len(_arr(stars[0]["x"])) == 1
    assert any("1 upload(s) as stars" in c.value for c in at.caption)


def test_latent_plane_for_a_two_dimensional_code(app_env, media):
    at = open_app(app_env["tiny-mlp-2d"], "map")
    assert "latent plane" in at.radio(key="map_method").options
    at.radio(key="map_method").set_value("latent plane").run()
    spec = _chart(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "z0"
    grid = media.array(image_by_caption(at, "Decoded images on a 12 x 12 grid"))
    assert grid.shape[0] == grid.shape[1]
    at2 = open_app(app_env["tiny-conv-mnist5k"], "map")
    assert "latent plane" not in at2.radio(key="map_method").options


def test_other_data_set_is_converted_and_encoded(app_env):
    at = open_app(app_env["tiny-conv-mnist5k"], "map")
    at.selectbox(key="dataset@tiny-conv-mnist5k").set_value("digits").run()
    assert not errors(at) and not at.exception
    traces = _chart(at)["data"]
    assert sum(len(_arr(t["x"])) for t in traces) == 297  # digits test split, converted to 28 x 28 and encoded
    assert any("digits images converted" in c.value for c in at.caption)


@pytest.mark.slow
def test_tsne_computed_in_the_background_then_cached_on_disk(app_env, cache_dir):
    from explorer.analysis import map_jobs as mapjobs

    before = set(mapjobs.JOBS.jobs)  # jobs another test left in this process (a worker runs many test files)
    mine = lambda: [j for k, j in mapjobs.JOBS.jobs.items() if k not in before]  # noqa: E731
    at = open_app(app_env["tiny-conv-mnist5k"], "map")
    at.radio(key="map_method").set_value("t-SNE").run()
    assert not errors(at)
    progress = at.get("progress")
    assert progress, "a progress indicator while t-SNE computes"
    assert any("PCA 1" == _chart(at)["layout"]["xaxis"]["title"]["text"] for _ in [0])  # PCA shown meanwhile
    switch_page(at, "walk").run()  # other pages stay usable meanwhile
    assert not at.exception
    deadline = time.time() + 240
    seen = []  # (fraction, stage) as the page would show them
    while time.time() < deadline and not all(j.done for j in mine()):
        seen += [(j.progress(), j.stage) for j in mine() if not j.done]
        time.sleep(0.05)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions), "progress never goes back"
    assert any(0 < f < 1 and "iteration" in stage for f, stage in seen), seen[-5:]  # the worker's own reports
    assert mine() and all(j.done and j.error is None for j in mine()), [j.error for j in mine()]
    switch_page(at, "map").run()
    assert _chart(at)["layout"]["xaxis"]["title"]["text"] == "TSNE 1"
    assert any("cached" in c.value for c in at.caption)
    files = list(cache_dir.glob("models/*/maps/tsne-*.safetensors"))  # explorer.cache: keyed by the weights digest
    assert files
    from safetensors.numpy import load_file

    assert load_file(str(files[0]))["coords"].shape == (500, 2)
    mapjobs.JOBS.jobs.clear()  # a fresh process: the map now comes from disk at once
    at.run()
    assert _chart(at)["layout"]["xaxis"]["title"]["text"] == "TSNE 1" and not at.get("progress")


def _select(at, points):
    key = next(k for k in at.session_state if str(k).startswith("map:"))
    at.session_state[key] = {"selection": {"points": points, "point_indices": [p["point_index"] for p in points],
                                           "box": [], "lasso": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_box_selection_shows_gallery_and_a_point_goes_to_the_walk(conv_model, media):
    at = open_app(conv_model, "map")
    traces = _chart(at)["data"]
    picks = [{"curve_number": c, "point_index": i} for c in range(3) for i in range(4)]
    _select(at, picks)
    expected = [int(_arr(traces[p["curve_number"]]["customdata"])[p["point_index"]]) for p in picks]
    assert any(s.value == f"{len(expected)} selected" for s in at.subheader)
    gallery = next(e for e in at.get("image") if len(e.value) == len(expected))
    assert [c.split(":")[0] for c in gallery.captions] == [str(i) for i in expected]
    _select(at, picks[:1])
    item = expected[0]
    assert any(s.value.startswith(f"Item {item} ") for s in at.subheader)
    image_by_caption(at, "decoded posterior mean")
    at.button(key="map_send").click().run()
    assert not at.exception
    assert at.session_state["walk_from_map"]["index"] == item
    switch_page(at, "walk").run()
    assert at.radio(key="walk_start").value == "map point"
    assert any(f"map point {item} of mnist5k" in c.value for c in at.caption)


def test_selection_and_csv_helpers():
    from types import SimpleNamespace

    from ui.pages.map.page import csv_bytes, selected_items

    index = [np.array([4, 7]), np.array([1]), np.array([-1])]  # last trace: uploads
    event = {"selection": {"points": [
        {"curve_number": 0, "point_index": 1}, {"curve_number": 1, "point_index": 0},
        {"curve_number": 2, "point_index": 0}, {"curve_number": 0, "point_index": 1}]}}
    assert selected_items(event, index) == [7, 1]
    assert selected_items({"selection": {"points": []}}, index) == []
    view = SimpleNamespace(labels=np.array([3, 5]), label_name=lambda i: ["three", "five"][i])
    text = csv_bytes(view, np.array([[0.5, 1.0], [2.0, -1.25]]), "pca").decode()
    assert text.splitlines() == ["index,label,class,pca_x,pca_y", "0,3,three,0.5,1", "1,5,five,2,-1.25"]


def test_a_killed_map_worker_is_reported_with_a_restart_button(app_env, tmp_path, monkeypatch, map_workers):
    """The background map worker killed with SIGKILL mid-job: the page says so and offers a restart,
    which starts a new worker; nothing half-written is left in the cache."""
    import signal

    from explorer.analysis import map_jobs as mapjobs

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))  # nothing cached: the worker must run
    started = map_workers
    jobs = lambda: [j for j in mapjobs.JOBS.jobs.values() if j.method == "tsne" and j.n == 500]  # noqa: E731
    for j in jobs():  # a t-SNE of the same points finished earlier in this process would be reused
        mapjobs.JOBS.jobs.pop(j.key, None)
    at = open_app(app_env["tiny-conv-mnist5k"], "map")
    at.radio(key="map_method").set_value("t-SNE").run()
    deadline = time.time() + 60
    while not started and time.time() < deadline:
        time.sleep(0.05)
    assert started, "no map worker was started"
    started[0].send_signal(signal.SIGKILL)
    started[0].wait(timeout=30)
    while not all(j.done for j in jobs()) and time.time() < deadline:
        time.sleep(0.05)
    try:
        at.run()
        said = errors(at)
        assert any(e.startswith("The map worker was killed (SIGKILL) while computing t-SNE of 500 points") for e in said), said
        assert _chart(at)["layout"]["xaxis"]["title"]["text"] == "PCA 1"  # the PCA map meanwhile
        # nothing torn in the cache: no map entry (cache/data/ holds the data set's own converted copy, written by
        # its loader when no earlier test loaded it in this process)
        cache = tmp_path / "cache"
        assert not [p for p in cache.rglob("*.safetensors") if p.relative_to(cache).parts[0] != "data"]
        at.run()  # a rerun does not restart it by itself
        assert len(started) == 1 and any("was killed (SIGKILL)" in e for e in errors(at))
        assert at.button(key="map_restart").label == "Restart t-SNE"
        at.button(key="map_restart").click().run()
        assert not at.exception and not any("was killed" in e for e in errors(at))
        while len(started) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(started) == 2, "Restart started no new worker"
        assert at.get("progress") or all(j.done for j in jobs())
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
        for j in jobs():
            mapjobs.JOBS.jobs.pop(j.key, None)
