"""A model's disentanglement metrics on a data set with known factors, each with the spread over its own
sampling seeds (the error bar), as the evaluate command writes them into metrics.json and the Factors page shows.

    report = measure(model, model_folder, factors_of(split), seeds=(0, 1, 2), preset="quick-dci")
    report.entries["dsprites/mig"]  # {"value": mean over seeds, "spread": std over seeds, "seed_values": [...], ...}

Codes are the posterior MEANS. A full factor grid (dSprites) is encoded once per model and cached by weights
digest (grid_cache.py); every metric then looks its items up. A table of labelled items (single-object shapes,
CelebA, a folder's factors.csv) is encoded as the metrics draw it.

Presets: "published" (disentanglement_lib's counts for all six), "quick-dci" (the five at their published counts,
DCI at its quick preset: published DCI takes minutes per seed), "quick" (every metric at report.QUICK: the page).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from explorer.analysis.disentanglement.grid_cache import cached_grid_means
from explorer.analysis.disentanglement.report import METRICS, disentanglement_metrics, metrics_json_entries
from explorer.analysis.disentanglement.sampling import CodeSource, model_encoder
from explorer.data.factors import FactorData, FactorGrid, FactorTable

PRESETS = {"published": "every metric at disentanglement_lib's published counts",
           "quick-dci": "published counts, except DCI at its quick preset (2,000 train / 1,000 test, 20 stages)",
           "quick": "every metric at the quick preset (a fifth of the published counts or less)"}
Progress = Callable[[float, str], None]  # (fraction done 0..1, stage)


@dataclass
class FactorReport:
    """The metrics of one model on one factor data set: metrics.json entries with their spread, and the MIG
    mutual-information matrix (latent dims x factors) averaged over the sampling seeds."""

    dataset: str
    factor_names: list[str]
    preset: str
    seeds: list[int]
    entries: dict[str, dict[str, Any]]
    mutual_information: np.ndarray  # (D, K) nats
    factor_entropy: np.ndarray  # (K,) nats
    encoding: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "factor_names": self.factor_names, "preset": self.preset,
                "seeds": self.seeds, "entries": self.entries,
                "mutual_information": self.mutual_information.tolist(), "factor_entropy": self.factor_entropy.tolist(),
                "encoding": self.encoding}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FactorReport:
        return cls(d["dataset"], list(d["factor_names"]), d["preset"], list(d["seeds"]), dict(d["entries"]),
                   np.asarray(d["mutual_information"], dtype=np.float64),
                   np.asarray(d["factor_entropy"], dtype=np.float64), dict(d.get("encoding") or {}))

    def normalised_mi(self) -> np.ndarray:
        """I(z_d; v_k) / H(v_k), (D, K) in [0, 1]: the share of each factor's entropy a dimension holds."""
        h = np.where(self.factor_entropy > 0, self.factor_entropy, 1.0)
        return self.mutual_information / h[None, :]


def representation(model: Any, model_folder: str | Path | None, data: FactorData,
                   cache_dir: str | Path | None = None, progress: Progress | None = None,
                   batch_size: int = 1024) -> tuple[CodeSource, dict[str, Any]]:
    """The codes the metrics draw from: a full grid's cached posterior means (encoded now when not cached;
    `model_folder` names the weights the cache is keyed by), else the model's posterior-mean encoder."""
    encode = model_encoder(model, batch_size=min(batch_size, 256))
    if isinstance(data, FactorGrid) and model_folder is not None:
        tick = (lambda done, total: progress(done / total, f"encoding the {total:,} items of {data.name}")) if progress else None
        means, info = cached_grid_means(model_folder, encode, data, cache_dir, batch_size, tick)
        return CodeSource(data, means=means), {**info, "items": len(means), "codes": "posterior means of the whole grid"}
    if isinstance(data, FactorTable):
        # a table is finite: encode each item once, then every draw (BetaVAE's 64-pair batches included) looks
        # its code up instead of rendering and encoding it again
        t0 = time.perf_counter()
        parts = []
        for start in range(0, len(data), batch_size):
            index = np.arange(start, min(start + batch_size, len(data)))
            parts.append(np.asarray(encode(data.load_images(index)), dtype=np.float32))
            if progress:
                progress((int(index[-1]) + 1) / len(data), f"encoding the {len(data):,} items of {data.name}")
        means = torch.from_numpy(np.concatenate(parts))  # (N, D)
        coded = FactorTable(data.name, data.factor_names, data.table, lambda index: means[np.asarray(index)],
                            (means.shape[1],), data.factor_sizes)
        return CodeSource(coded, encode=lambda codes: codes.numpy()), {
            "cached": False, "items": len(means), "seconds": time.perf_counter() - t0,
            "codes": "posterior means of every item of the table"}
    return CodeSource(data, encode=encode), {"cached": False, "codes": "posterior means, encoded as drawn"}


def measure(model: Any, model_folder: str | Path | None, data: FactorData, seeds: tuple[int, ...] = (0, 1, 2),
            preset: str = "quick-dci", names: list[str] | None = None, cache_dir: str | Path | None = None,
            progress: Progress | None = None) -> FactorReport:
    """Every metric (or `names`) of `model` on `data` for each sampling seed; entries hold the mean over seeds
    as `value`, the standard deviation (ddof 1) as `spread` and each seed's figure. progress(fraction, stage):
    grid encoding is the first half when it is not cached, the metrics the rest."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if not seeds:
        raise ValueError("give at least one sampling seed")
    wanted = list(names or METRICS)
    unknown = sorted(set(wanted) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    encode_share = 0.5 if isinstance(data, (FactorGrid, FactorTable)) else 0.0

    def encoding_progress(fraction: float, stage: str) -> None:
        if progress:
            progress(encode_share * fraction, stage)

    source, encoding = representation(model, model_folder, data, cache_dir, encoding_progress)
    if encoding.get("cached"):
        encode_share = 0.0
    per_seed: list[dict[str, dict[str, Any]]] = []
    mi, entropy = [], []
    steps, done = len(seeds) * len(wanted), 0
    for seed in seeds:
        def tick(name: str, seconds: float) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(encode_share + (1 - encode_share) * done / steps, f"{name} (seed {seed}) took {seconds:.1f} s")

        quick_all = preset == "quick"
        results = disentanglement_metrics(source, data, seed, quick=quick_all,
                                          names=[n for n in wanted if quick_all or n != "dci" or preset == "published"],
                                          progress=tick)
        if preset == "quick-dci" and "dci" in wanted:
            results.update(disentanglement_metrics(source, data, seed, quick=True, names=["dci"], progress=tick))
        per_seed.append(metrics_json_entries(results, data.name))
        if "mig" in results:
            mi.append(np.asarray(results["mig"].details["mutual_information"]))
            entropy.append(np.asarray(results["mig"].details["factor_entropy"]))
    entries = combine_seeds(per_seed, list(seeds))
    d = int(mi[0].shape[0]) if mi else 0
    return FactorReport(data.name, list(data.factor_names), preset, list(seeds), entries,
                        np.mean(mi, axis=0) if mi else np.zeros((d, data.num_factors)),
                        np.mean(entropy, axis=0) if entropy else np.zeros(data.num_factors), encoding)


def combine_seeds(per_seed: list[dict[str, dict[str, Any]]], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """One entry per key from each seed's metrics.json entries: value = mean, spread = std (ddof 1, 0 for a
    single seed), seed_values, and the first seed's settings less its seed (the seeds are listed)."""
    out: dict[str, dict[str, Any]] = {}
    for key, first in per_seed[0].items():
        values = np.array([float(p[key]["value"]) for p in per_seed])
        settings = {k: v for k, v in first["settings"].items() if k not in ("seed", "seconds")}
        settings["seconds_per_seed"] = round(float(np.mean([p[key]["settings"].get("seconds", 0.0) for p in per_seed])), 2)
        out[key] = {"value": float(values.mean()), "spread": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "seed_values": [float(v) for v in values], "seeds": list(seeds),
                    "description": first["description"], "settings": settings}
    return out


def dimension_factors(normalised_mi: np.ndarray, factor_names: list[str]) -> list[dict[str, Any]]:
    """Per latent dimension: the factor whose entropy it holds the largest share of, that share, the runner-up
    and the margin (share of the first minus share of the second), from a (D, K) normalised MI matrix."""
    m = np.asarray(normalised_mi, dtype=np.float64)
    order = np.argsort(-m, axis=1, kind="stable")
    rows = []
    for d in range(m.shape[0]):
        first = int(order[d, 0])
        second = int(order[d, 1]) if m.shape[1] > 1 else None
        share = float(m[d, first])
        runner = float(m[d, second]) if second is not None else 0.0
        rows.append({"dim": d, "factor": factor_names[first], "share": share,
                     "runner_up": factor_names[second] if second is not None else "",
                     "margin": share - runner})
    return rows


def recipe_key(config: dict[str, Any]) -> str:
    """What makes two checkpoints the same recipe up to the training seed (config.json: family, model config,
    data set and options, training config less its seed and logging)."""
    training = {k: v for k, v in (config.get("training") or {}).items()
                if k not in ("seed", "log_every", "tensorboard", "progress", "resume")}
    data = config.get("dataset") or {}
    return json.dumps({"family": config.get("family"), "config": config.get("config"), "dataset": data.get("name"),
                       "options": data.get("options") or {}, "training": training}, sort_keys=True, default=str)


__all__ = ["FactorReport", "PRESETS", "combine_seeds", "dimension_factors", "measure", "recipe_key", "representation"]
