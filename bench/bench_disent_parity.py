"""This project's MIG, SAP, FactorVAE score and DCI against `disent`'s (an independent PyTorch implementation), on
the same posterior means of the whole dSprites grid.

    /work/disent-venv/bin/python -m bench.bench_disent_parity pretrained/vae-dsprites pretrained/tcvae-dsprites ...
    python -m bench.bench_disent_parity --smoke      # a synthetic code, small counts: seconds

disent is installed in its own venv, never the app's (`python -m venv --system-site-packages /work/disent-venv`,
then `pip install disent`, and latte-metrics from its source tree: docs/disentanglement.md); run from the app's venv,
this script re-runs itself under `--disent-python` (default /work/disent-venv/bin/python) when disent is not
importable here. Where latte-metrics is importable too, modularity is compared against it (`compare_latte`;
`--latte-only` skips disent's four).

disent 0.9.x needs Python >= 3.12 (its code uses PEP 695 generics: `def groundtruth_only[**P, R](...)` is a
SyntaxError on 3.11); this machine has Python 3.11.7 only, so the figures are disent 0.8.0's, the newest that
imports here. disent's own dSprites loader downloads, so this project's grid is wrapped in disent's
`GroundTruthData` (`ProjectGrid`): same factor names, sizes and index order. Both sides read the SAME cached means
(explorer.analysis.disentanglement.grid_cache, keyed by weights digest; encoded here when not cached): disent's
observations are the grid's item indices and its representation function looks their means up, so the encoder
runs once and the only differences left are each library's own sampling and estimator. disent draws its points
with numpy's global generator (seeded per run here); it cannot be handed our points.

Agreement: |ours - disent| <= max(0.02, 2 x the larger spread over sampling seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, announce_smoke

DISENT_PYTHON = "/work/disent-venv/bin/python"
SMOKE_COUNTS = {"mig": 500, "sap": (200, 100), "factor_vae": (100, 50, 300), "dci": None}  # smoke: no DCI (100 stages)
FULL_COUNTS = {"mig": 10_000, "sap": (10_000, 5_000), "factor_vae": (10_000, 5_000, 10_000), "dci": (1_000, 500),
               "modularity": 10_000}


def has_disent() -> bool:
    try:
        import disent.metrics  # noqa: F401
    except Exception:  # noqa: BLE001  (absent, or a version whose syntax this Python cannot read)
        return False
    return True


def project_grid_class():
    """disent's GroundTruthData over this project's dSprites generator (factor order, sizes and index order are
    the grid's). Observations are item indices when `indices=True` (the representation looks means up), else the
    rendered image (H, W, 1) uint8."""
    from disent.dataset.data import GroundTruthData

    from explorer.data.dsprites import DSprites

    class ProjectGrid(GroundTruthData):
        def __init__(self, indices: bool = True):
            self.grid = DSprites()
            self.indices = indices
            super().__init__()

        @property
        def factor_names(self):
            return self.grid.factor_names

        @property
        def factor_sizes(self):
            return self.grid.factor_sizes

        @property
        def img_shape(self):
            return (64, 64, 1)

        def _get_observation(self, idx):
            if self.indices:
                return np.int64(idx)
            image = self.grid.images(self.grid.factors_of(np.array([idx])))[0]  # (1, 64, 64) in [0, 1]
            return (image.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)

    return ProjectGrid


def disent_figures(means: np.ndarray, seeds: list[int], counts: dict) -> dict[str, list[float]]:
    """disent's MIG, SAP, FactorVAE score and DCI of the cached means, one figure per seed."""
    import torch
    from disent.dataset import DisentDataset
    from disent.metrics import metric_dci, metric_factor_vae, metric_mig, metric_sap

    grid = project_grid_class()(indices=True)
    assert grid.pos_to_idx(np.array([[1, 2, 3, 4, 5]]))[0] == grid.grid.index_of(np.array([[1, 2, 3, 4, 5]]))[0]
    dataset = DisentDataset(grid)
    table = torch.from_numpy(np.asarray(means, dtype=np.float32))

    def represent(batch):
        return table[torch.as_tensor(batch).long().reshape(-1)]

    out: dict[str, list[float]] = {"mig": [], "sap": [], "factor_vae": [], "dci": []}
    for seed in seeds:
        np.random.seed(seed)
        torch.manual_seed(seed)
        out["mig"].append(metric_mig(dataset, represent, num_train=counts["mig"])["mig.discrete_score"])
        n_train, n_test = counts["sap"]
        out["sap"].append(metric_sap(dataset, represent, num_train=n_train, num_test=n_test)["sap.score"])
        n_train, n_eval, n_var = counts["factor_vae"]
        r = metric_factor_vae(dataset, represent, num_train=n_train, num_eval=n_eval, num_variance_estimate=n_var)
        out["factor_vae"].append(r["factor_vae.eval_accuracy"])
        if counts["dci"]:
            n_train, n_test = counts["dci"]
            out["dci"].append(metric_dci(dataset, represent, num_train=n_train, num_test=n_test)["dci.disentanglement"])
    return out


def our_figures(means: np.ndarray, seeds: list[int], counts: dict) -> dict[str, list[float]]:
    """This project's figures of the same means, the same counts, one per seed."""
    from explorer.analysis.disentanglement import dci, factor_vae_score, mig, sap
    from explorer.data.dsprites import DSprites

    grid = DSprites()
    out: dict[str, list[float]] = {"mig": [], "sap": [], "factor_vae": [], "dci": []}
    for seed in seeds:
        out["mig"].append(mig(means, grid, seed=seed, num_train=counts["mig"]).value)
        out["sap"].append(sap(means, grid, seed=seed, num_train=counts["sap"][0], num_test=counts["sap"][1]).value)
        n_train, n_eval, n_var = counts["factor_vae"]
        # disent prunes no dimension (its _prune_dims is called with threshold 0.0, the function's default); this
        # project's default is disentanglement_lib's study setting, prune_dims.threshold = 0.05, so the parity
        # run compares at disent's 0.0
        out["factor_vae"].append(factor_vae_score(means, grid, seed=seed, num_train=n_train, num_eval=n_eval,
                                                  num_variance_estimate=n_var, prune_threshold=0.0).value)
        if counts["dci"]:  # disent's trees are sklearn's defaults (100 stages): the same here
            out["dci"].append(dci(means, grid, seed=seed, num_train=counts["dci"][0], num_test=counts["dci"][1],
                                  n_estimators=100).value)
    return out


def has_latte() -> bool:
    try:
        import latte.functional.disentanglement.modularity  # noqa: F401
    except Exception:  # noqa: BLE001  (absent)
        return False
    return True


def latte_modularity(means: np.ndarray, seeds: list[int], num_train: int) -> dict[str, list[float]]:
    """Modularity of the same sampled points three ways, one figure per seed: this project's; latte-metrics'
    formula over this project's histogram MI (latte's MI function replaced, so only the formula differs); and
    latte's own end to end, whose MI is sklearn's k-nearest-neighbour estimate (`mutual_info_classif`) on the
    continuous means rather than disentanglement_lib's 20-bin histograms. latte returns one value per code
    dimension; both sides average them."""
    from unittest import mock

    import latte
    from latte.functional.disentanglement import modularity as latte_module

    from explorer.analysis.disentanglement.info import histogram_discretise, mutual_information, mutual_information_matrix
    from explorer.analysis.disentanglement.modularity import modularity_score
    from explorer.analysis.disentanglement.sampling import as_source
    from explorer.data.dsprites import DSprites

    grid = DSprites()
    out: dict[str, list[float]] = {"ours": [], "latte_formula": [], "latte": []}
    for seed in seeds:
        factors, codes = as_source(means, grid).sample_chunked(num_train, np.random.default_rng(seed))
        binned = histogram_discretise(codes)
        out["ours"].append(modularity_score(mutual_information_matrix(binned, factors)))

        def histogram_mi(_z: np.ndarray, a: np.ndarray, discrete: bool = False) -> np.ndarray:
            return np.array([mutual_information(binned[:, d], a) for d in range(binned.shape[1])])  # (D,)

        with mock.patch.object(latte_module, "_latent_attr_mutual_info", histogram_mi):
            out["latte_formula"].append(float(latte_module.modularity(codes, factors, discrete=True).mean()))
        latte.RANDOM_STATE = seed
        out["latte"].append(float(latte_module.modularity(codes, factors, discrete=True).mean()))
    return out


def compare_latte(name: str, means: np.ndarray, seeds: list[int], num_train: int) -> list[dict]:
    """latte-metrics' modularity beside this project's (see `latte_modularity`)."""
    t0 = time.perf_counter()
    figures = {k: np.array(v) for k, v in latte_modularity(means, seeds, num_train).items()}
    ours, rows = figures["ours"], []
    for side, label in (("latte_formula", "latte formula, our MI"), ("latte", "latte, its kNN MI")):
        other = figures[side]
        spread = max(ours.std(ddof=1) if len(ours) > 1 else 0.0, other.std(ddof=1) if len(other) > 1 else 0.0)
        tolerance = 1e-9 if side == "latte_formula" else max(0.02, 2 * spread)
        row = {"model": name, "metric": f"modularity ({label})", "ours": round(float(ours.mean()), 4),
               "ours_spread": round(float(ours.std()), 4), "latte": round(float(other.mean()), 4),
               "latte_spread": round(float(other.std()), 4), "difference": round(float(ours.mean() - other.mean()), 4),
               "tolerance": tolerance, "agree": bool(abs(ours.mean() - other.mean()) <= tolerance)}
        rows.append(row)
        print(f"{name:24s} modularity ours {ours.mean():.4f} ± {ours.std():.4f}   {label} {other.mean():.4f} ± "
              f"{other.std():.4f}   diff {ours.mean() - other.mean():+.4f} (tolerance {tolerance:.3g}) "
              f"{'agree' if row['agree'] else 'DIFFER'}", flush=True)
    print(f"{name}: modularity, three ways, {time.perf_counter() - t0:.1f} s", flush=True)
    return rows


def model_means(folder: str, cache_dir: str | None) -> np.ndarray:
    """The cached posterior means of the whole grid for a model folder (encoded now when not cached)."""
    from explorer.analysis.disentanglement import model_encoder
    from explorer.analysis.disentanglement.grid_cache import cached_grid_means
    from explorer.checkpoint import from_pretrained
    from explorer.data.dsprites import DSprites

    model = from_pretrained(folder, "cpu").eval()
    means, info = cached_grid_means(folder, model_encoder(model), DSprites(), cache_dir)
    how = "cached" if info["cached"] else f"encoded in {info['seconds']:.0f} s"
    print(f"{folder}: means {means.shape} ({how})", flush=True)
    return means


def compare(name: str, means: np.ndarray, seeds: list[int], counts: dict, with_disent: bool) -> list[dict]:
    """Rows of this project's figures beside disent's (when `with_disent`; else this project's alone, no verdict)."""
    rows = []
    t0 = time.perf_counter()
    ours = our_figures(means, seeds, counts)
    t1 = time.perf_counter()
    theirs = disent_figures(means, seeds, counts) if with_disent else None
    t2 = time.perf_counter()
    for metric in [m for m in ours if ours[m]]:
        a = np.array(ours[metric])
        if theirs is None:
            print(f"{name:24s} {metric:11s} ours {a.mean():.4f} ± {a.std():.4f}   disent: not installed", flush=True)
            rows.append({"model": name, "metric": metric, "ours": round(float(a.mean()), 4),
                         "ours_spread": round(float(a.std()), 4)})
            continue
        b = np.array(theirs[metric])
        spread = max(a.std(ddof=1) if len(a) > 1 else 0.0, b.std(ddof=1) if len(b) > 1 else 0.0)
        tolerance = max(0.02, 2 * spread)
        row = {"model": name, "metric": metric, "ours": round(float(a.mean()), 4), "ours_spread": round(float(a.std()), 4),
               "disent": round(float(b.mean()), 4), "disent_spread": round(float(b.std()), 4),
               "difference": round(float(a.mean() - b.mean()), 4), "tolerance": round(float(tolerance), 4),
               "agree": bool(abs(a.mean() - b.mean()) <= tolerance)}
        rows.append(row)
        print(f"{name:24s} {metric:11s} ours {a.mean():.4f} ± {a.std():.4f}   disent {b.mean():.4f} ± {b.std():.4f}"
              f"   diff {a.mean() - b.mean():+.4f} (tolerance {tolerance:.3f}) {'agree' if row['agree'] else 'DIFFER'}",
              flush=True)
    print(f"{name}: ours {t1 - t0:.1f} s" + (f", disent {t2 - t1:.1f} s" if with_disent else ""), flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="dSprites model folders (their cached grid means are compared)")
    ap.add_argument("--seeds", type=int, default=3, help="sampling seeds 0..N-1 on each side")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None, help="write the rows here")
    ap.add_argument("--latte-only", action="store_true", help="compare latte-metrics' modularity alone")
    ap.add_argument("--disent-python", default=os.environ.get("DISENT_PYTHON", DISENT_PYTHON),
                    help="the venv's Python that has disent (used when this one has not)")
    add_smoke_option(ap)
    a = ap.parse_args()
    with_disent = has_disent()
    if not with_disent:
        if Path(a.disent_python).is_file() and not os.environ.get("DISENT_PARITY_CHILD"):
            root = Path(__file__).resolve().parents[1]
            # `-m` from the checkout's top folder finds bench/ and explorer/; a venv Python is a link to the same
            # binary, so the child is marked rather than recognised
            env = dict(os.environ, DISENT_PARITY_CHILD="1")
            return subprocess.call([a.disent_python, "-m", "bench.bench_disent_parity", *sys.argv[1:]], cwd=root, env=env)
        print(f"disent is not importable under {sys.executable}, and {a.disent_python} is not a Python that has it: "
              "install it in its own venv (see the module docstring); only this project's figures follow.", flush=True)
    announce_smoke(a, counts=f"SMOKE_COUNTS {SMOKE_COUNTS}, a synthetic 10-D code, one seed")
    if with_disent:
        import importlib.metadata

        print(f"disent {importlib.metadata.version('disent')} under Python {sys.version.split()[0]}", flush=True)
    if a.smoke:
        from bench.bench_disentanglement import synthetic_means
        from explorer.data.dsprites import DSprites

        synthetic = synthetic_means(DSprites(), 10, 0.05, 0)
        compare("synthetic", synthetic, [0], SMOKE_COUNTS, with_disent)
        if has_latte():
            compare_latte("synthetic", synthetic, [0], SMOKE_COUNTS["mig"])
        return 0
    if not with_disent:
        return 2  # a parity run with one side only compares nothing
    rows = []
    for folder in a.models:
        means = model_means(folder, a.cache_dir)
        if a.latte_only:
            rows += compare_latte(Path(folder).name, means, list(range(a.seeds)), FULL_COUNTS["modularity"])
            continue
        rows += compare(Path(folder).name, means, list(range(a.seeds)), FULL_COUNTS, True)
        if has_latte():
            rows += compare_latte(Path(folder).name, means, list(range(a.seeds)), FULL_COUNTS["modularity"])
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
