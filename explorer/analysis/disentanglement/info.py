"""Discretised mutual information, as disentanglement_lib computes it for MIG and modularity.

Codes are discretised per dimension into `num_bins` (20) equal-width histogram bins over their own range
(`np.digitize(x, np.histogram(x, num_bins)[1][:-1])`, disentanglement_lib's `_histogram_discretize`). The mutual
information of two discrete columns is the plug-in estimate in nats, sklearn's `mutual_info_score`, here from
one `bincount` per pair instead of sklearn's per-call contingency matrix (tests check it against sklearn).
"""

from __future__ import annotations

import numpy as np

NUM_BINS = 20


def histogram_discretise(codes: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Codes (n, D) -> bin indices (n, D) int64 in 1..num_bins, equal-width bins over each dimension's range."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.empty(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        out[:, d] = np.digitize(codes[:, d], np.histogram(codes[:, d], num_bins)[1][:-1])
    return out


def _dense(column: np.ndarray) -> tuple[np.ndarray, int]:
    values, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1), len(values)


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (nats) of two discrete columns (n,)."""
    ia, na = _dense(a)
    ib, nb = _dense(b)
    joint = np.bincount(ia * nb + ib, minlength=na * nb).reshape(na, nb).astype(np.float64) / len(ia)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(max(0.0, (joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum()))


def mutual_information_matrix(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """MI (D, K) in nats between each discretised code dimension (n, D) and each factor (n, K)."""
    return np.array([[mutual_information(discrete_codes[:, d], factors[:, k]) for k in range(factors.shape[1])]
                     for d in range(discrete_codes.shape[1])])


def entropies(factors: np.ndarray) -> np.ndarray:
    """Plug-in entropy (K,) in nats of each discrete factor column (n, K)."""
    out = []
    for k in range(factors.shape[1]):
        p = np.bincount(_dense(factors[:, k])[0]) / len(factors)
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)
