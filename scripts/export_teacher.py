"""Turn the autoencoder_kl run into the shipped teacher: a diffusers folder with its card and PSNR on the
held-out photographs (explorer/analysis/teacher.py does the work).

    python scripts/export_teacher.py runs/kl-f4-photos pretrained/kl-f4-photos

The run comes from scripts/train-pretrained.sh kl-f4-photos; tests/test_teacher.py reads
the folder this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/export_teacher.py RUN_FOLDER OUT_FOLDER", file=sys.stderr)
        return 2
    import torch

    from explorer.checkpoint import read_config
    from explorer.data import load_dataset
    from explorer.analysis.teacher import export_teacher

    torch.set_num_threads(1)
    run, out = Path(argv[0]), Path(argv[1])
    payload = read_config(run / "checkpoint")  # written at every epoch, so a run stopped early has it too
    dataset = payload.get("dataset") or {}
    if dataset.get("name") != "photos":
        print(f"{run} was trained on {dataset.get('name')!r}; the teacher's card describes the photos data set",
              file=sys.stderr)
        return 2
    data = load_dataset("photos", **(dataset.get("options") or {}))
    scores = export_teacher(run, out, data, recipe=payload.get("command", "?"))
    print(json.dumps({k: scores[k] for k in ("mean_psnr_whole_db", "mean_psnr_tiles_db", "psnr_whole_db",
                                             "scaling_factor", "parameters", "train_seconds", "steps")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
