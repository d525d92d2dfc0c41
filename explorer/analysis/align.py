"""Procrustes alignment of 2-D maps of the same items, so that maps of different models can be read side by side.

Two models' PCA maps of the same test items differ by an arbitrary rotation, reflection and scale even when they
arrange the items alike (the principal directions have no preferred sign or orientation). Aligning each map to a
reference with the similarity transform that fits best (translation, orthogonal map, one scale) removes that
freedom; what is left, the disparity, is how differently the two models place the items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """points -> reference: aligned = (points - source_mean) @ rotation * scale + reference_mean."""

    aligned: np.ndarray  # (N, K) the points in the reference's frame
    rotation: np.ndarray  # (K, K) orthogonal (a reflection is allowed: PCA signs are arbitrary)
    scale: float
    source_mean: np.ndarray  # (K,)
    reference_mean: np.ndarray  # (K,)
    disparity: float  # sum of squared residuals over the reference's centred sum of squares: 0 = same shape, 1 = none

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Any other (M, K) points of the source map (uploads, say) moved by the same transform."""
        return (np.asarray(points, dtype=np.float64) - self.source_mean) @ self.rotation * self.scale + self.reference_mean


def procrustes_align(reference: np.ndarray, points: np.ndarray) -> Alignment:
    """Align (N, K) `points` to (N, K) `reference` (row i of each is the same item) by the least-squares
    similarity transform: scipy.linalg.orthogonal_procrustes on the centred maps, then the optimal scale.

    Unlike scipy.spatial.procrustes, which rescales both maps to unit size, the reference keeps its own
    coordinates, so several maps aligned to one reference share its axes; the disparity is the same figure
    scipy.spatial.procrustes reports.
    """
    from scipy.linalg import orthogonal_procrustes

    ref = np.asarray(reference, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    if ref.shape != pts.shape or ref.ndim != 2:
        raise ValueError(f"maps to align must be (N, K) of the same shape, got {ref.shape} and {pts.shape}")
    if len(ref) < 2:
        raise ValueError(f"aligning maps needs at least 2 items, got {len(ref)}")
    ref_mean, pts_mean = ref.mean(0), pts.mean(0)
    a, b = ref - ref_mean, pts - pts_mean
    norm_b = float((b**2).sum())
    norm_a = float((a**2).sum())
    if norm_b == 0.0 or norm_a == 0.0:  # every item at one place: only the translation is defined
        rotation = np.eye(ref.shape[1])
        aligned = np.broadcast_to(ref_mean, ref.shape).copy()
        return Alignment(aligned, rotation, 0.0, pts_mean, ref_mean, 0.0 if norm_a == 0.0 else 1.0)
    rotation, singular_sum = orthogonal_procrustes(b, a)  # argmin_R ||b R - a||, R orthogonal; sum of singular values
    scale = float(singular_sum) / norm_b
    aligned = b @ rotation * scale + ref_mean
    disparity = float(((aligned - ref) ** 2).sum()) / norm_a
    return Alignment(aligned, rotation, scale, pts_mean, ref_mean, disparity)
