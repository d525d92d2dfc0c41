"""All the disentanglement metrics of one representation on one factor data set, at the published settings or
a stated quick preset, as `metrics.json` entries (a figure with a one-line description and its settings)."""

from __future__ import annotations

import time
from typing import Any, Callable

from explorer.analysis.disentanglement.beta_vae import beta_vae_score
from explorer.analysis.disentanglement.dci import QUICK as DCI_QUICK
from explorer.analysis.disentanglement.dci import dci
from explorer.analysis.disentanglement.factor_vae import factor_vae_score
from explorer.analysis.disentanglement.mig import mig
from explorer.analysis.disentanglement.modularity import modularity_explicitness
from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source
from explorer.analysis.disentanglement.sap import sap
from explorer.data.factors import FactorData

METRICS: dict[str, Callable[..., MetricResult]] = {
    "beta_vae": beta_vae_score, "factor_vae": factor_vae_score, "mig": mig, "sap": sap, "dci": dci,
    "modularity": modularity_explicitness,
}
# the quick preset (a page's first look): a fifth of the published counts or less, said in each result's settings
QUICK: dict[str, dict[str, Any]] = {
    "beta_vae": {"num_train": 2_000, "num_eval": 1_000},
    "factor_vae": {"num_variance_estimate": 2_000, "num_train": 2_000, "num_eval": 1_000},
    "mig": {"num_train": 2_000},
    "sap": {"num_train": 2_000, "num_test": 1_000},
    "dci": dict(DCI_QUICK),
    "modularity": {"num_train": 2_000, "num_test": 1_000},
}


def disentanglement_metrics(encode: Encode | Any | CodeSource, data: FactorData, seed: int = 0, quick: bool = False,
                            names: list[str] | None = None,
                            progress: Callable[[str, float], None] | None = None) -> dict[str, MetricResult]:
    """The named metrics (all by default) of a representation on `data`, each with `seed`; `quick` uses the
    QUICK counts. Each result's settings gain `preset` and `seconds`; `progress(name, seconds)` after each."""
    unknown = sorted(set(names or ()) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    source = as_source(encode, data)
    results = {}
    for name in names or list(METRICS):
        t0 = time.perf_counter()
        result = METRICS[name](source, data, seed=seed, **(QUICK[name] if quick else {}))
        seconds = time.perf_counter() - t0
        result.settings["preset"] = "quick" if quick else "published"
        result.settings["seconds"] = round(seconds, 2)
        results[name] = result
        if progress:
            progress(name, seconds)
    return results


def metrics_json_entries(results: dict[str, MetricResult], dataset: str) -> dict[str, dict[str, Any]]:
    """`metrics.json` entries: "<dataset>/<metric>" -> {value, description, settings}, plus DCI's completeness
    and informativeness and the explicitness of modularity as their own figures."""
    out: dict[str, dict[str, Any]] = {}
    for name, r in results.items():
        out[f"{dataset}/{name}"] = {"value": r.value, "description": r.description, "settings": r.settings}
    extra = {("dci", "completeness"): "DCI completeness: how much each factor's importance sits on one dimension",
             ("dci", "informativeness_test"): "DCI informativeness: test accuracy of the per-factor trees",
             ("modularity", "explicitness_test"): "explicitness: mean one-vs-rest ROC-AUC of a linear read-out"}
    for (name, key), description in extra.items():
        if name in results:
            out[f"{dataset}/{name}_{key}"] = {"value": results[name].details[key], "description": description,
                                              "settings": results[name].settings}
    return out
