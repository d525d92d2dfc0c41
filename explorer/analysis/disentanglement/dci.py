"""DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018), disentanglement_lib's
defaults: 10,000 train and 5,000 test points, one sklearn GradientBoostingClassifier (its defaults) per factor
reading the factor from all code dimensions, posterior means. Importance R (D, K) = |feature_importances_|.

- disentanglement: sum over dimensions of (1 - entropy_K(R[d] / sum R[d])) x (share of total importance of d);
- completeness: sum over factors of (1 - entropy_D(R[:, k] / sum R[:, k])) x (share of k);
- informativeness: mean accuracy of the per-factor classifiers (train and test).

The gradient-boosted trees take minutes at the published settings (each factor needs its own trees, one per
class and stage); `quick=True` uses 2,000 / 1,000 points and 20 stages, and says so in the settings. sklearn's
HistGradientBoostingClassifier is no drop-in: it has no feature_importances_.
"""

from __future__ import annotations

import numpy as np

from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.data.factors import FactorData

QUICK = {"num_train": 2_000, "num_test": 1_000, "n_estimators": 20}
PUBLISHED = (10_000, 5_000, 100)  # num_train, num_test, n_estimators (sklearn's default)


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy in base `base` of each row of non-negative weights (normalised per row), as scipy.stats.entropy."""
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def disentanglement(importance: np.ndarray) -> float:
    """DCI disentanglement of an importance matrix (D, K) (1e-11 added, as disentanglement_lib does)."""
    r = np.asarray(importance, dtype=np.float64)
    per_code = 1.0 - _entropy_rows(r + 1e-11, r.shape[1]) if r.shape[1] > 1 else np.ones(r.shape[0])
    if r.sum() == 0.0:
        r = np.ones_like(r)
    return float(np.sum(per_code * r.sum(axis=1) / r.sum()))


def completeness(importance: np.ndarray) -> float:
    """DCI completeness of an importance matrix (D, K)."""
    r = np.asarray(importance, dtype=np.float64)
    per_factor = 1.0 - _entropy_rows(r.T + 1e-11, r.shape[0]) if r.shape[0] > 1 else np.ones(r.shape[1])
    if r.sum() == 0.0:
        r = np.ones_like(r)
    return float(np.sum(per_factor * r.sum(axis=0) / r.sum()))


def importance_gbt(codes: np.ndarray, factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray,
                   n_estimators: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance (D, K) from one gradient-boosted classifier per factor; train and test accuracy (K,)."""
    from sklearn.ensemble import GradientBoostingClassifier

    d, k = codes.shape[1], factors.shape[1]
    importance, train_acc, test_acc = np.zeros((d, k)), np.zeros(k), np.zeros(k)
    for j in range(k):
        if len(np.unique(factors[:, j])) < 2:
            train_acc[j] = test_acc[j] = 1.0  # a constant factor: nothing to read, nothing to attribute
            continue
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed).fit(codes, factors[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        train_acc[j] = np.mean(model.predict(codes) == factors[:, j])
        test_acc[j] = np.mean(model.predict(test_codes) == test_factors[:, j])
    return importance, train_acc, test_acc


def dci(encode: Encode | np.ndarray | CodeSource, data: FactorData, seed: int = 0, num_train: int = 10_000,
        num_test: int = 5_000, n_estimators: int = 100, quick: bool = False) -> MetricResult:
    """DCI of a representation on `data`; the figure is disentanglement, completeness and informativeness are
    in the details (see the module docstring; `quick` for the reduced preset)."""
    if quick:
        num_train, num_test, n_estimators = QUICK["num_train"], QUICK["num_test"], QUICK["n_estimators"]
    source, rng = as_source(encode, data), np.random.default_rng(seed)
    f_train, c_train = source.sample_chunked(num_train, rng)
    f_test, c_test = source.sample_chunked(num_test, rng)
    r, train_acc, test_acc = importance_gbt(c_train, f_train, c_test, f_test, n_estimators, seed)
    return MetricResult(
        "dci", disentanglement(r),
        {"seed": seed, "num_train": num_train, "num_test": num_test, "n_estimators": n_estimators,
         "preset": "quick" if quick else ("published" if (num_train, num_test, n_estimators) == PUBLISHED else "custom"),
         "codes": "posterior means"},
        {"disentanglement": disentanglement(r), "completeness": completeness(r),
         "informativeness_train": float(train_acc.mean()), "informativeness_test": float(test_acc.mean()),
         "importance": r.tolist(), "factor_names": list(data.factor_names)},
        "DCI disentanglement: how much each dimension's tree importance sits on one factor (details: C, I)")
