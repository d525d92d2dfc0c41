"""The posterior-collapse verdict: from the figures evaluation writes (total KL, KL per dimension, active units),
whether the code carries too little to be worth walking, why, and what to do about it.

Torch-free, so that the app's sidebar can judge a model from its metrics.json before torch is loaded; the
evaluation (explorer.analysis.evaluation) writes the verdict into metrics.json, and the command lines
(explorer.cli.report) and the app (ui.app.sidebar) word it from the same sentences.
"""

from __future__ import annotations

import math
from typing import Any

ACTIVE_UNIT_THRESHOLD = 0.01
# Posterior collapse: a code whose mean KL is under ln 10 nats can tell at most ten images apart (the KL bounds the
# information the code carries about x), and a dimension under 0.1 nats carries next to nothing.
COLLAPSE_TOTAL_KL_NATS = math.log(10.0)
COLLAPSE_DIM_KL_NATS = 0.1
COLLAPSE_REMEDIES = ("a KL warm-up (--kl-schedule linear --warmup-epochs N)", "free bits (--free-bits 0.1)",
                     "a smaller --beta", "more --epochs")


def collapse_verdict(kl_total: float, kl_per_dim: list[float], n_active: int, spatial: bool = False,
                     pruning_objective: bool = False) -> dict:
    """Whether the code has collapsed, for metrics.json and the warnings: {"collapsed", "reasons", "kl_nats",
    "informative_dims" (KL over 0.1 nats), "active_units", "latent_dims", "remedies"}.

    It has when the mean total KL is under ln 10 nats, or no unit is active, or (a vector code only) fewer than half
    the dimensions carry more than 0.1 nats or are active. A spatial code (C x H x W) is exempt from the half rule:
    its empty positions are unused by design (pu-shapes keeps 190 of 968). So is a model whose objective prunes
    dimensions (`pruning_objective`: beta > 1, beta-TCVAE, FactorVAE): on dSprites' 5 factors a 10-D code with 4 or 5
    dimensions in use is what it is meant to learn."""
    dims = len(kl_per_dim)
    informative = sum(1 for v in kl_per_dim if v > COLLAPSE_DIM_KL_NATS)
    reasons = []
    if kl_total < COLLAPSE_TOTAL_KL_NATS:
        reasons.append(f"the mean KL is {kl_total:.2f} nats in total, under ln 10 = {COLLAPSE_TOTAL_KL_NATS:.2f}: "
                       "the code cannot tell ten images apart")
    if dims and n_active == 0:
        reasons.append(f"no unit is active (no dimension's posterior mean varies by over {ACTIVE_UNIT_THRESHOLD} "
                       "across the test images)")
    elif dims and not spatial and not pruning_objective:
        if 2 * informative < dims:
            reasons.append(f"only {informative} of {dims} dimensions carry over {COLLAPSE_DIM_KL_NATS} nats of KL")
        if 2 * n_active < dims:
            reasons.append(f"only {n_active} of {dims} units are active (variance of the mean over "
                           f"{ACTIVE_UNIT_THRESHOLD})")
    return {"collapsed": bool(reasons), "reasons": reasons, "kl_nats": float(kl_total),
            "informative_dims": informative, "active_units": int(n_active), "latent_dims": dims,
            "remedies": list(COLLAPSE_REMEDIES) if reasons else []}


def stored_verdict(metrics: dict[str, Any], spatial: bool, pruning_objective: bool = False) -> dict | None:
    """The verdict of a model folder's metrics.json: the one evaluation wrote (metrics["collapse"]), else judged here
    from its KL per dimension and active units (metrics written before the verdict existed); None when the metrics
    hold neither (a model trained elsewhere). spatial: the code is a C x H x W map (Capabilities.code_kind)."""
    if isinstance(metrics.get("collapse"), dict) and "collapsed" in metrics["collapse"]:
        return metrics["collapse"]
    kl = metrics.get("kl_per_dim")
    active = metrics.get("active_units")
    if not kl or not isinstance(active, int):
        return None
    # the sum of the per-dimension means is the mean total KL of the code (the pu's location terms not included)
    return collapse_verdict(float(sum(kl)), [float(v) for v in kl], active, spatial=spatial,
                            pruning_objective=pruning_objective)


def collapse_sentences(verdict: dict) -> tuple[str, str, str]:
    """A collapsed verdict in three sentences: (why, both measures, the remedies), without end punctuation."""
    why = "; ".join(verdict["reasons"])
    figures = (f"The code carries {verdict['kl_nats']:.2f} nats; {verdict['informative_dims']} of "
               f"{verdict['latent_dims']} dimensions carry over {COLLAPSE_DIM_KL_NATS} nats and "
               f"{verdict['active_units']} are active")
    remedies = "Remedies: " + ", ".join(verdict["remedies"] or COLLAPSE_REMEDIES)
    return why, figures, remedies
