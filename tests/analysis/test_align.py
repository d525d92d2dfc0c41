"""Procrustes alignment: a rotated, reflected, scaled and shifted copy of a map aligns back onto it; the disparity
agrees with scipy.spatial.procrustes (an independent implementation) on unrelated maps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import procrustes

from explorer.analysis.align import procrustes_align


def _rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@pytest.mark.parametrize("reflect", [False, True])
def test_a_rotated_scaled_shifted_copy_aligns_back(reflect):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 2)) * [3.0, 1.0] + [5.0, -2.0]
    turn = _rotation(1.1) @ (np.diag([1.0, -1.0]) if reflect else np.eye(2))
    copy = reference @ turn * 0.37 + [-40.0, 12.0]
    a = procrustes_align(reference, copy)
    np.testing.assert_allclose(a.aligned, reference, atol=1e-9)
    assert a.disparity < 1e-20
    assert a.scale == pytest.approx(1 / 0.37)
    np.testing.assert_allclose(a.rotation @ a.rotation.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(a.apply(copy[:5]), reference[:5], atol=1e-9)  # other points move the same way


def test_noisy_copy_keeps_the_reference_frame_and_matches_scipys_disparity():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(300, 2)) * [2.0, 0.5]
    noisy = (reference + rng.normal(scale=0.3, size=reference.shape)) @ _rotation(-2.0) * 4.0 + 7.0
    a = procrustes_align(reference, noisy)
    np.testing.assert_allclose(a.aligned.mean(0), reference.mean(0), atol=1e-9)  # the reference's coordinates
    assert np.abs(a.aligned - reference).mean() < 0.3  # back within the noise
    _, _, scipy_disparity = procrustes(reference, noisy)
    assert a.disparity == pytest.approx(scipy_disparity, rel=1e-9)
    unrelated = rng.normal(size=reference.shape)
    b = procrustes_align(reference, unrelated)
    assert b.disparity == pytest.approx(procrustes(reference, unrelated)[2], rel=1e-9)
    assert b.disparity > 0.9 > a.disparity


def test_mismatched_maps_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        procrustes_align(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        procrustes_align(np.zeros((1, 2)), np.zeros((1, 2)))
