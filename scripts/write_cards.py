"""Rewrite the shipped models' cards as Hugging Face model cards, from each folder's metrics (no retraining).

    python scripts/write_cards.py                 every folder in pretrained/ with a config.json
    python scripts/write_cards.py pretrained/conv-mnist5k ...

Each README.md gets fresh YAML metadata (library_name, tags, datasets, a model-index of every score in metrics.json,
or teacher.json for the diffusers teacher) above its Markdown, which is kept as written (explorer.card.rewrite_card).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub import ModelCard

from explorer.card import rewrite_card

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="model folders (default: every one in pretrained/)")
    folders = parser.parse_args(argv).folders or sorted(p.parent for p in (ROOT / "pretrained").glob("*/config.json"))
    missing = [str(f) for f in folders if not (f / "config.json").is_file()]
    if missing:
        parser.error(f"folders: {', '.join(missing)}: no config.json there; accepted: model folders as the training "
                     "writes them (pretrained/NAME)")
    for folder in folders:
        try:
            path = rewrite_card(folder)
        except (OSError, ValueError) as exc:
            print(f"{folder}: {exc}", file=sys.stderr)
            return 1
        results = ModelCard.load(path).data.eval_results or []
        print(f"{path}: {len(results)} results in its model-index")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
