"""ui/shared/pad.py's helpers and live_latent's pad-mode checks (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from ui.components.live import live_latent
from ui.shared.pad import pad_extent, plane_axes


def test_pad_extent_covers_the_dots_square():
    dots = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 0.5]], dtype=np.float32)
    (xlo, xhi), (ylo, yhi) = pad_extent(dots)
    assert xlo < -1 and xhi > 2 and ylo < 0 and yhi > 1
    assert np.isclose(xhi - xlo, yhi - ylo)  # same span on both axes: the pad is not stretched
    (xlo, xhi), (ylo, yhi) = pad_extent(dots, floor=3.0)
    assert xlo <= -3 and xhi >= 3 and ylo <= -3 and yhi >= 3
    (xlo, xhi), _ = pad_extent(None)
    assert xlo <= -1 and xhi >= 1


def test_plane_axes():
    comps, mean = np.eye(5)[:2] * 2, np.arange(5.0)
    start, vectors, labels = plane_axes("pca", comps, mean, 5)
    assert np.array_equal(start, mean) and np.array_equal(vectors, comps) and labels == ["PCA 1", "PCA 2"]
    start, vectors, _ = plane_axes("plane", None, None, 2)
    assert np.array_equal(start, np.zeros(2)) and np.array_equal(vectors, np.eye(2))
    assert plane_axes("umap", comps, mean, 5) is None
    assert plane_axes("plane", None, None, 3) is None


def test_pad_mode_needs_two_axes():
    with pytest.raises(ValueError, match="two axes"):
        live_latent("k", b"x", "m", np.zeros(3), np.eye(3), np.ones(3), ["a", "b", "c"], np.zeros(3), (1, 28, 28),
                    mode="pad")
    with pytest.raises(ValueError, match="mode"):
        live_latent("k", b"x", "m", np.zeros(2), np.eye(2), np.ones(2), ["a", "b"], np.zeros(2), (1, 28, 28),
                    mode="grid")
