"""Maps that scale: the PCA paths for many points, sample-fitted UMAP / t-SNE, the cuML dispatch, the memory
refusal and the map cache."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from explorer.analysis import maps
from explorer.analysis.maps import (
    MapTooLargeError, check_map_memory, compute_map, compute_tsne, compute_umap, fit_sample, umap_backend,
)


def _points(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spread = np.concatenate([[6.0, 4.0, 3.0], np.linspace(1.0, 0.1, d - 3)])  # three clear leading directions
    return (rng.normal(size=(n, d)) * spread @ np.linalg.qr(rng.normal(size=(d, d)))[0] + 2.0).astype(np.float32)


def test_fit_sample_is_seeded_and_none_below_the_size() -> None:
    assert fit_sample(100, None) is None and fit_sample(100, 100) is None
    a, b = fit_sample(1000, 50, seed=3), fit_sample(1000, 50, seed=3)
    assert len(a) == 50 and np.array_equal(a, b) and np.all(np.diff(a) > 0)


@pytest.mark.slow  # two openTSNE runs (~10 s)
def test_tsne_beyond_fit_size_fits_the_sample_and_places_the_rest() -> None:
    x = _points(400, 6)
    stages = []
    coords = compute_tsne(x, seed=0, fit_size=150, progress=lambda f, s: stages.append((f, s)))
    picked = fit_sample(400, 150, 0)
    assert coords.shape == (400, 2) and np.isfinite(coords).all()
    np.testing.assert_allclose(coords[picked], compute_tsne(x[picked], seed=0), atol=1e-4)
    assert any("placing" in s for _, s in stages) and stages[-1][0] == 1.0


class _StandInUMAP:
    """What the test's stand-in `cuml` module offers: cuml.UMAP with fit_transform and transform."""

    calls: list[tuple[str, int]] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def fit_transform(self, x):
        self.calls.append(("fit_transform", len(x)))
        return np.asarray(x)[:, :2] * 10

    def transform(self, x):
        self.calls.append(("transform", len(x)))
        return np.asarray(x)[:, :2] * 10


def test_cuml_umap_is_used_when_it_imports_and_a_gpu_is_present(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    fake = types.ModuleType("cuml")
    fake.UMAP = _StandInUMAP  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuml", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert umap_backend() == "umap-learn"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert umap_backend() == "cuml"
    _StandInUMAP.calls = []
    x = _points(500, 4)
    coords = compute_umap(x, seed=1, fit_size=200)
    assert _StandInUMAP.calls[0] == ("fit_transform", 200)
    assert sum(n for kind, n in _StandInUMAP.calls if kind == "transform") == 300
    np.testing.assert_allclose(coords, x[:, :2] * 10, rtol=1e-6)


def test_no_cuml_means_umap_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setitem(sys.modules, "cuml", None)  # import cuml raises ImportError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert umap_backend() == "umap-learn"


def test_a_map_beyond_memory_is_refused_up_front_with_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MapTooLargeError, match=r"1,000,000,000 codes of 968 dimensions needs about [\d.]+ GiB but 1.0 GiB"):
        check_map_memory(1_000_000_000, 968, "umap", available=2**30)
    assert check_map_memory(1000, 16, "pca", available=2**30) > 0
    monkeypatch.setattr(maps, "available_memory_bytes", lambda: 1000)
    called = []
    monkeypatch.setattr(maps, "compute_tsne", lambda *a, **k: called.append(1))
    with pytest.raises(MapTooLargeError, match="TSNE map of 50 codes"):
        compute_map(np.zeros((50, 4), np.float32), "tsne")
    assert not called
    assert maps.available_memory_bytes.__name__ == "<lambda>"


def test_available_memory_reads_proc_meminfo() -> None:
    assert maps.available_memory_bytes() > 2**20
