"""Modularity and explicitness (Ridgeway & Mozer 2018), disentanglement_lib's defaults: 10,000 train and 5,000
test points, MI from 20-bin histograms (`info.py`), posterior means.

Modularity: per code dimension, 1 - (sum of squared MI over factors - the largest) / (largest x (K - 1)), 0 for
a dimension with no MI; averaged over dimensions. Explicitness: per factor, the one-vs-rest ROC-AUC of a
logistic regression from the standardised codes, averaged over factors.
"""

from __future__ import annotations

import numpy as np

from explorer.analysis.disentanglement.info import NUM_BINS, histogram_discretise, mutual_information_matrix
from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.data.factors import FactorData


def modularity_score(mutual_info: np.ndarray) -> float:
    """Modularity of an MI (or importance) matrix (D, K)."""
    sq = np.square(np.asarray(mutual_info, dtype=np.float64))
    top = sq.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - top) / (top * (sq.shape[1] - 1.0))
    score = np.where(top == 0.0, 0.0, 1.0 - delta)
    return float(score.mean())


def explicitness_per_factor(train_codes: np.ndarray, train_y: np.ndarray, test_codes: np.ndarray,
                            test_y: np.ndarray) -> tuple[float, float]:
    """(train, test) one-vs-rest ROC-AUC of a logistic regression reading one factor from codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import label_binarize

    classes = np.unique(train_y)
    if len(classes) < 2:
        return 1.0, 1.0
    clf = LogisticRegression(max_iter=1000).fit(train_codes, train_y)

    def auc(x: np.ndarray, y: np.ndarray) -> float:
        p = clf.predict_proba(x)
        if len(classes) == 2:
            return float(roc_auc_score(y == classes[1], p[:, 1])) if len(np.unique(y)) == 2 else float("nan")
        onehot = label_binarize(y, classes=classes)
        present = onehot.sum(0) > 0
        present &= onehot.sum(0) < len(y)
        return float(roc_auc_score(onehot[:, present], p[:, present], average="macro"))

    return auc(train_codes, train_y), auc(test_codes, test_y)


def modularity_explicitness(encode: Encode | np.ndarray | CodeSource, data: FactorData, seed: int = 0,
                            num_train: int = 10_000, num_test: int = 5_000, num_bins: int = NUM_BINS) -> MetricResult:
    """Modularity (the figure) and explicitness (train / test in the details) of a representation on `data`."""
    source, rng = as_source(encode, data), np.random.default_rng(seed)
    f_train, c_train = source.sample_chunked(num_train, rng)
    f_test, c_test = source.sample_chunked(num_test, rng)
    mi = mutual_information_matrix(histogram_discretise(c_train, num_bins), f_train)
    mean, std = c_train.mean(0), c_train.std(0)
    std = np.where(std > 0, std, 1.0)
    z_train, z_test = (c_train - mean) / std, (c_test - mean) / std
    expl = np.array([explicitness_per_factor(z_train, f_train[:, k], z_test, f_test[:, k])
                     for k in range(f_train.shape[1])])
    return MetricResult(
        "modularity", modularity_score(mi),
        {"seed": seed, "num_train": num_train, "num_test": num_test, "num_bins": num_bins, "codes": "posterior means"},
        {"mutual_information": mi.tolist(), "explicitness_train": float(np.nanmean(expl[:, 0])),
         "explicitness_test": float(np.nanmean(expl[:, 1])), "explicitness_per_factor": expl[:, 1].tolist(),
         "factor_names": list(data.factor_names)},
        "modularity: how much each code dimension's MI sits on one factor (details: explicitness, ROC-AUC)")
