"""Encode a whole split of a data set in a separate, niced process into the cache (run by ui.services.mapjobs).

    python -m ui.services.encode_worker MODEL DATASET SPLIT CACHE_DIR OPTIONS_JSON [TRUSTED_FILE ...]

The same as `vae-evaluate MODEL --dataset DATASET --split SPLIT --encode-only` (explorer.analysis.encode_dataset
.encode_splits, with that command's default batch size, so both fill the same cache entry), reporting its
progress as "progress FRACTION STAGE" lines on stdout, as every worker does (explorer.runtime.workers).
"""

from __future__ import annotations

import json
import sys

from explorer.analysis.encode_dataset import encode_splits
from explorer.cache import weights_digest
from explorer.cli.evaluate import load_model
from explorer.data import load_dataset
from explorer.runtime.workers import lower_priority, report

BATCH_SIZE = 50  # explorer.cli.evaluate's --batch-size default: the cache entry's name depends on it


def main(argv: list[str]) -> int:
    model_path, dataset, split, cache_dir, options_json, *trusted = argv
    lower_priority()
    from pathlib import Path

    report(0.0, "loading the model and the data set")
    options = json.loads(options_json)
    model = load_model(Path(model_path), "cpu", trusted, None)
    data = load_dataset(dataset, **options)
    shape = tuple(int(s) for s in model.config.input_shape)
    if tuple(int(s) for s in data.image_shape) != shape:
        print(f"{dataset} images are {tuple(data.image_shape)} but the model takes {shape}: encode it with "
              f"vae-evaluate --image-size", file=sys.stderr)
        return 2
    encode_splits(model, data, [split], weights_digest(Path(model_path)), data_options=options, cache_dir=cache_dir,
                  batch_size=BATCH_SIZE, limit=None, show_progress=False,
                  progress=lambda done, total: report(done / max(total, 1), f"{done:,} of {total:,} items"))
    report(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
