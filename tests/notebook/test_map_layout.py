"""LatentMap's layouts without a browser (explorer.notebook.layouts): a UMAP or t-SNE of the codes is the app's map
job (explorer.analysis.map_jobs), watched from a kernel thread; its progress reaches the page's data, its points
replace the PCA points when done (the selection kept), a newer request cancels the one it supersedes, a failure is
shown, and PCA comes back at once. The tests plant the job's result in the disk cache, as an earlier run leaves it; the
workers they start are real (one fails, one is cancelled). A real UMAP / t-SNE run in the worker is the app's test
(tests/app/test_app_map.py), on the same explorer.analysis.map_jobs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import traitlets

from explorer.analysis.map_jobs import cache_path, map_key
from explorer.cache import write_entry
from explorer.map_wire import data_bounds, quantize, unpack
from explorer.notebook import LatentMap
from explorer.notebook.layouts import DATASET, layout_params


def clustered(seed: int, n: int = 300, d: int = 16, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(codes (n, d) float32 in k well-separated clusters, their labels (n,)); a seed of its own per test, so that no
    test finds another's job in the process's table of jobs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    centres = rng.standard_normal((k, d)) * 8
    return (centres[labels] + rng.standard_normal((n, d))).astype(np.float32), labels


def plant(cache_dir, codes: np.ndarray, method: str, coords: np.ndarray, **params) -> None:
    """Write `coords` where the map job of these codes (no model: digest "notebook") would cache its result."""
    key = map_key("notebook", DATASET, method, layout_params(method, **params), 0, codes)
    write_entry(cache_path(cache_dir, key), {"coords": coords.astype(np.float32)}, {"method": method})


def payload(widget) -> tuple[dict, dict]:
    """The points part the page would get now: (header, blobs)."""
    return unpack(widget.parts[widget.data["parts"]["points"]]())


def test_a_layout_replaces_the_points_and_keeps_the_selection(tmp_path):
    codes, labels = clustered(11)
    planted = np.random.default_rng(0).uniform(-20, 20, (len(codes), 2))
    plant(tmp_path, codes, "tsne", planted)
    m = LatentMap(codes, labels=labels, cache_dir=tmp_path)
    pca_key = m.data["parts"]["points"]
    assert m.layout == m.shown_layout == "pca" and "pca_mean" in payload(m)[0]
    m.selection = [1, 5, 9]
    request = m.compute_layout("tsne")
    assert m.wait_layout(30) and request.job.error is None
    np.testing.assert_allclose(m.coords, planted.astype(np.float32))
    assert m.layout == m.shown_layout == "tsne" and m.data["parts"]["points"] != pca_key
    header, blobs = payload(m)
    q = quantize(planted.astype(np.float32), data_bounds(planted.astype(np.float32)))
    np.testing.assert_array_equal(np.stack([blobs["qx"], blobs["qy"]], 1), q)
    assert "pca_mean" not in header  # a t-SNE has no inverse: the page decodes no spot between items
    np.testing.assert_array_equal(m.selection, [1, 5, 9])  # the selection goes to the page again with the new points
    assert np.frombuffer(m.parts[m.data["parts"]["selected"]](), "<u4").tolist() == [1, 5, 9]
    job = m.data["header"]["layout_job"]
    assert job["state"] == "done" and job["stage"] == "loaded from the cache" and job["label"] == "t-SNE"
    m.layout = "pca"  # back at once, in the kernel
    assert m.shown_layout == "pca" and m.data["parts"]["points"] == pca_key and "layout_job" not in m.data["header"]
    np.testing.assert_allclose(m.coords, m.pca.coords)
    with pytest.raises(traitlets.TraitError, match="must be one of"):
        m.layout = "mds"
    with pytest.raises(traitlets.TraitError, match="must be one of"):
        m.layout = "given"  # codes, not coordinates, were passed in


def test_a_newer_request_cancels_the_one_it_supersedes(tmp_path):
    codes, labels = clustered(12)
    planted = np.random.default_rng(1).uniform(-5, 5, (len(codes), 2))
    plant(tmp_path, codes, "tsne", planted, perplexity=10.0)
    m = LatentMap(codes, labels=labels, cache_dir=tmp_path)
    shown: list[str] = []
    m.observe(lambda change: shown.append(m.shown_layout), names="data")
    m.layout = "umap"  # starts the UMAP worker...
    umap = m.layout_job
    assert umap is not None and umap.method == "umap" and not umap.done
    assert m.compute_layout("umap").job is umap  # the same layout again: the same job, not a restart
    m.compute_layout("tsne", perplexity=10.0)  # ...which this one supersedes
    assert m.wait_layout(30) and m.shown_layout == "tsne"
    deadline = time.monotonic() + 30
    while not umap.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert umap.done and umap.cancelled and umap.error == "JobCancelled: superseded" and umap.coords is None
    assert umap.returncode is None or umap.returncode < 0  # terminated, or never started
    assert "umap" not in shown and m.layout == "tsne"


def test_a_failed_layout_is_shown_and_the_points_stay(tmp_path):
    codes, labels = clustered(13)
    m = LatentMap(codes, labels=labels, cache_dir=tmp_path, layout="tsne", layout_params={"learning_rte": 1.0})
    assert m.wait_layout(180)  # a niced worker on a busy machine may start late
    job = m.data["header"]["layout_job"]
    assert job["state"] == "failed" and "learning_rte" in job["error"] and job["showing"] == "PCA"
    assert m.shown_layout == "pca" and m.layout == "tsne"


def test_map_coordinates_start_as_given(tmp_path):
    coords = np.random.default_rng(0).uniform(size=(50, 2))
    m = LatentMap(coords, cache_dir=tmp_path)  # no model: a 2-D latent space, whose map is the codes themselves
    assert m.layout == m.shown_layout == "given" and m.layout_job is None
    assert payload(m)[0]["pca_components"] == [[1.0, 0.0], [0.0, 1.0]]  # the pointer's position is the code
    m.layout = "pca"
    assert m.shown_layout == "pca" and "pca_mean" in payload(m)[0]
    m.layout = "given"  # back to the coordinates passed in
    np.testing.assert_array_equal(m.coords, coords)
    assert m.shown_layout == "given" and payload(m)[0]["pca_components"] == [[1.0, 0.0], [0.0, 1.0]]
