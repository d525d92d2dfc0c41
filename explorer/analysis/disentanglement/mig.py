"""MIG, the mutual information gap (Chen et al. 2018), with disentanglement_lib's defaults: 10,000 points,
codes discretised into 20 histogram bins (`info.py`), computed on posterior means.

MIG = mean over factors k of (I(z_a; v_k) - I(z_b; v_k)) / H(v_k), a and b the two code dimensions with the
largest mutual information with v_k.
"""

from __future__ import annotations

import numpy as np

from explorer.analysis.disentanglement.info import NUM_BINS, entropies, histogram_discretise, mutual_information_matrix
from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.data.factors import FactorData


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = NUM_BINS,
                   discretise: bool = True) -> tuple[float, dict]:
    """MIG of codes (n, D) against factors (n, K), and its details: the MI matrix (D, K), the factor entropies,
    the per-factor gap. `discretise=False` takes codes that are already discrete."""
    discrete = histogram_discretise(codes, num_bins) if discretise else np.asarray(codes)
    mi = mutual_information_matrix(discrete, factors)
    h = entropies(factors)
    ordered = np.sort(mi, axis=0)[::-1]  # (D, K), largest first
    second = ordered[1] if len(ordered) > 1 else np.zeros(mi.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(h > 0, (ordered[0] - second) / h, 0.0)
    return float(gap.mean()), {"mutual_information": mi.tolist(), "factor_entropy": h.tolist(),
                               "gap_per_factor": gap.tolist(), "top_dimension": np.argmax(mi, 0).tolist()}


def mig(encode: Encode | np.ndarray | CodeSource, data: FactorData, seed: int = 0, num_train: int = 10_000,
        num_bins: int = NUM_BINS) -> MetricResult:
    """MIG of a representation (an encode function of posterior means, cached means, or a CodeSource) on `data`,
    from `num_train` random items drawn with `seed`."""
    factors, codes = as_source(encode, data).sample_chunked(num_train, np.random.default_rng(seed))
    value, details = mig_from_codes(codes, factors, num_bins)
    details["factor_names"] = list(data.factor_names)
    return MetricResult("mig", value, {"seed": seed, "num_train": num_train, "num_bins": num_bins,
                                       "codes": "posterior means", "discretisation": "histogram"}, details,
                        "mutual information gap: mean over factors of the top-two MI difference over H(factor)")
