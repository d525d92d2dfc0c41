"""The BetaVAE score (Higgins et al. 2017), disentanglement_lib's `beta_vae_sklearn` defaults: 10,000 training
and 5,000 evaluation points, each from a batch of 64 pairs, posterior means.

One point: pick a factor k at random; draw 64 pairs of items that share factor k (everything else drawn
afresh); the point is the mean absolute difference of the pairs' codes (D,), labelled k. A logistic regression
(sklearn's defaults) predicts k; the score is its accuracy on the evaluation points.
"""

from __future__ import annotations

import numpy as np

from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.data.factors import FactorData


def beta_vae_points(source: CodeSource, num_points: int, batch_size: int, rng: np.random.Generator,
                    chunk_points: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`num_points` (features (n, D), labels (n,)) drawn `chunk_points` points (x 2 x batch_size items) at a
    time."""
    feats, labels = [], []
    k_total = source.data.num_factors
    for start in range(0, num_points, chunk_points):
        p = min(chunk_points, num_points - start)
        ks = rng.integers(0, k_total, p)
        per_item_k = np.repeat(ks, batch_size)  # (p * batch,)
        f1, c1 = source.sample(p * batch_size, rng)
        _, c2 = source.sample_matching(f1[np.arange(len(f1)), per_item_k], per_item_k, rng)
        diff = np.abs(c1 - c2).reshape(p, batch_size, -1).mean(axis=1)  # (p, D)
        feats.append(diff)
        labels.append(ks)
    return np.concatenate(feats), np.concatenate(labels)


def beta_vae_score(encode: Encode | np.ndarray | CodeSource, data: FactorData, seed: int = 0,
                   num_train: int = 10_000, num_eval: int = 5_000, batch_size: int = 64) -> MetricResult:
    """The BetaVAE score of a representation on `data` (see the module docstring): evaluation accuracy."""
    from sklearn.linear_model import LogisticRegression

    source, rng = as_source(encode, data), np.random.default_rng(seed)
    x_train, y_train = beta_vae_points(source, num_train, batch_size, rng)
    model = LogisticRegression(random_state=seed).fit(x_train, y_train)
    train_acc = float(np.mean(model.predict(x_train) == y_train))
    x_eval, y_eval = beta_vae_points(source, num_eval, batch_size, rng)
    eval_acc = float(model.score(x_eval, y_eval))
    return MetricResult("beta_vae", eval_acc,
                        {"seed": seed, "num_train": num_train, "num_eval": num_eval, "batch_size": batch_size,
                         "codes": "posterior means"},
                        {"train_accuracy": train_acc, "eval_accuracy": eval_acc,
                         "factor_names": list(data.factor_names)},
                        "BetaVAE score: accuracy of a linear classifier naming the fixed factor from code differences")
