"""SAP, the separated attribute predictability score (Kumar et al. 2018), disentanglement_lib's defaults:
10,000 train and 5,000 test points, discrete factors (a linear SVM, C = 0.01, balanced class weights, reads
each factor from each single code dimension; the score matrix holds test accuracies), posterior means.
`continuous_factors=True` scores by the squared correlation instead. SAP = mean over factors of the gap between
the best and second-best dimension.
"""

from __future__ import annotations

import numpy as np

from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.data.factors import FactorData


def sap_matrix(codes: np.ndarray, factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray,
               continuous_factors: bool = False) -> np.ndarray:
    """The score matrix (D, K): test accuracy of a 1-D linear SVM per (dimension, factor), or for continuous
    factors the squared correlation (0 for a constant dimension)."""
    d, k = codes.shape[1], factors.shape[1]
    out = np.zeros((d, k))
    if continuous_factors:
        cz = codes - codes.mean(0)
        cy = factors - factors.mean(0)
        cov = cz.T @ cy / (len(codes) - 1)  # (D, K)
        var_z, var_y = cz.var(0, ddof=1), cy.var(0, ddof=1)
        ok = (var_z[:, None] > 1e-12) & (var_y[None, :] > 0)
        np.divide(cov**2, np.outer(var_z, var_y), out=out, where=ok)
        return out
    from sklearn.svm import LinearSVC

    for i in range(d):
        for j in range(k):
            if len(np.unique(factors[:, j])) < 2:
                continue
            clf = LinearSVC(C=0.01, class_weight="balanced").fit(codes[:, i:i + 1], factors[:, j])
            out[i, j] = np.mean(clf.predict(test_codes[:, i:i + 1]) == test_factors[:, j])
    return out


def top_two_gap(matrix: np.ndarray) -> float:
    """Mean over columns of (largest - second largest) entry."""
    s = np.sort(matrix, axis=0)
    return float(np.mean(s[-1] - s[-2])) if len(s) > 1 else float(np.mean(s[-1]))


def sap(encode: Encode | np.ndarray | CodeSource, data: FactorData, seed: int = 0, num_train: int = 10_000,
        num_test: int = 5_000, continuous_factors: bool = False) -> MetricResult:
    """SAP of a representation on `data` (see the module docstring)."""
    source, rng = as_source(encode, data), np.random.default_rng(seed)
    f_train, c_train = source.sample_chunked(num_train, rng)
    f_test, c_test = source.sample_chunked(num_test, rng)
    m = sap_matrix(c_train, f_train, c_test, f_test, continuous_factors)
    return MetricResult("sap", top_two_gap(m),
                        {"seed": seed, "num_train": num_train, "num_test": num_test,
                         "continuous_factors": continuous_factors, "codes": "posterior means"},
                        {"score_matrix": m.tolist(), "factor_names": list(data.factor_names)},
                        "SAP: mean over factors of the gap between the two code dimensions that predict it best")
