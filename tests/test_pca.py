"""Principal components at scale: the covariance and randomized paths agree with the exact SVD."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import pca
from explorer.pca import fit_pca, principal_components


def _points(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spread = np.concatenate([[6.0, 4.0, 3.0], np.linspace(1.0, 0.1, d - 3)])  # three clear leading directions
    return (rng.normal(size=(n, d)) * spread @ np.linalg.qr(rng.normal(size=(d, d)))[0] + 2.0).astype(np.float32)


@pytest.mark.parametrize("d", [12, 300])  # covariance path, randomized path
def test_large_pca_paths_agree_with_the_exact_svd(d: int, monkeypatch: pytest.MonkeyPatch) -> None:
    x = _points(3000, d)
    exact = principal_components(x, 3)
    monkeypatch.setattr(pca, "EXACT_PCA_MAX", 1000)
    monkeypatch.setattr(pca, "PCA_CHUNK", 700)  # several chunks
    fast = principal_components(x, 3)
    np.testing.assert_allclose(fast.mean, exact.mean, atol=1e-5)
    np.testing.assert_allclose(np.abs((fast.components * exact.components).sum(1)), 1.0, atol=1e-4)
    np.testing.assert_allclose(fast.components, exact.components, atol=1e-2)  # same signs
    np.testing.assert_allclose(fast.std, exact.std, rtol=1e-4)
    np.testing.assert_allclose(fast.explained_variance_ratio, exact.explained_variance_ratio, rtol=1e-4)
    np.testing.assert_allclose(fit_pca(x).coords, x.astype(np.float64) @ fast.components[:2].T
                               - fast.mean @ fast.components[:2].T, atol=1e-3)
