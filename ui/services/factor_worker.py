"""Compute a model's disentanglement metrics in a separate, niced process and write them as JSON (run by
ui.services.factorjobs).

    python -m ui.services.factor_worker MODEL DATASET OPTIONS_JSON OUT.json CACHE_DIR [TRUSTED_FILE ...]

The page's preset (explorer.analysis.disentanglement.measure, preset "quick", sampling seeds 0, 1, 2) on
posterior means; a full grid (dSprites) is encoded once per model into the cache, which `vae-evaluate ... --metrics
disentanglement` shares. Progress goes out as "progress FRACTION STAGE" lines, as every worker's do
(explorer.runtime.workers).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from explorer.analysis.disentanglement.measure import measure
from explorer.cli.evaluate import load_model
from explorer.data import load_dataset
from explorer.data.factors import factors_of
from explorer.files import atomic_write_json
from explorer.runtime.workers import lower_priority, report

PAGE_PRESET = "quick"
PAGE_SEEDS = (0, 1, 2)


def main(argv: list[str]) -> int:
    model_path, dataset, options_json, out, cache_dir, *trusted = argv
    lower_priority()
    report(0.0, "loading the model and the data set")
    model = load_model(Path(model_path), "cpu", trusted, None)
    factors = factors_of(load_dataset(dataset, **json.loads(options_json)))
    shape = tuple(int(s) for s in model.config.input_shape)
    if tuple(int(s) for s in factors.image_shape) != shape:
        print(f"{dataset} images are {tuple(factors.image_shape)} but the model takes {shape}", file=sys.stderr)
        return 2
    result = measure(model, Path(model_path) if Path(model_path).is_dir() else None, factors, PAGE_SEEDS,
                     PAGE_PRESET, cache_dir=cache_dir, progress=report)
    report(1.0, "saving")
    atomic_write_json(out, result.to_dict())
    report(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
