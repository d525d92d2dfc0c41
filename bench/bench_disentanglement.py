"""Times of the disentanglement metrics at their published sample counts, from cached posterior means of the
whole dSprites grid (737,280 x D), so that only the metrics are timed, not the encoder.

The means are a synthetic code: each of the first 5 dimensions is one factor plus Gaussian noise, the rest are
noise (`--noise`), so the figures are meaningful as well as the times.

    .venv/bin/python -m bench.bench_disentanglement --threads 1            # published counts, DCI included
    .venv/bin/python -m bench.bench_disentanglement --smoke                # small counts, seconds
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.cpu_options import add_cpu_options, apply_cpu_options

from explorer.analysis.disentanglement import METRICS
from explorer.data.dsprites import DSprites
from bench.smoke import add_smoke_option, announce_smoke

SMOKE = {"beta_vae": {"num_train": 200, "num_eval": 100}, "factor_vae": {"num_variance_estimate": 1000,
         "num_train": 200, "num_eval": 100}, "mig": {"num_train": 1000}, "sap": {"num_train": 500, "num_test": 250},
         "modularity": {"num_train": 1000, "num_test": 500}, "dci": {"num_train": 300, "num_test": 200,
                                                                    "n_estimators": 5}}


def synthetic_means(grid: DSprites, dim: int, noise: float, seed: int) -> np.ndarray:
    """Means (len(grid), dim) float32: dimension k < 5 is factor k scaled to [0, 1] plus noise; others noise."""
    rng = np.random.default_rng(seed)
    factors = grid.factors_of(np.arange(len(grid)))
    means = rng.normal(0.0, noise, (len(grid), dim)).astype(np.float32)
    means[:, :5] += (factors / (np.array(grid.factor_sizes) - 1)).astype(np.float32)
    return means


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--metrics", default=",".join(METRICS), help=f"comma-separated, from {list(METRICS)}")
    add_smoke_option(ap)
    add_cpu_options(ap)
    a = ap.parse_args()
    announce_smoke(a, counts="SMOKE (small sample counts per metric)")
    apply_cpu_options(a)
    grid = DSprites()
    t0 = time.perf_counter()
    means = synthetic_means(grid, a.dim, a.noise, a.seed)
    print(f"means {means.shape} built in {time.perf_counter() - t0:.1f} s")
    rows = {}
    for name in a.metrics.split(","):
        kw = SMOKE[name] if a.smoke else {}
        t0 = time.perf_counter()
        result = METRICS[name](means, grid, seed=a.seed, **kw)
        seconds = time.perf_counter() - t0
        rows[name] = {"value": round(result.value, 4), "seconds": round(seconds, 2), "settings": result.settings}
        print(f"{name:12s} {result.value:.4f}  {seconds:7.2f} s  {json.dumps(result.settings)}", flush=True)
    fast = sum(r["seconds"] for n, r in rows.items() if n != "dci")
    print(f"the metrics other than DCI: {fast:.1f} s together")


if __name__ == "__main__":
    main()
