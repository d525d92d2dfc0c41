"""Compare the pu family's two label heads, softmax and Pu et al.'s Bayesian SVM, on `shapes` with 10% of the
training labels, and record both test label accuracies in pretrained/pu-shapes (label_heads.json and a card
section).

    python scripts/pu_label_heads.py                  # train both (train.py, same recipe but --label-head), record
    python scripts/pu_label_heads.py --record-only    # record the runs already in runs/ (RUNS)

The recipe is a smaller, shorter version of pu-shapes' own (16/32 maps instead of 32/48, 5x5 kernels, 8 or 12
epochs, no caption head) so that each run takes minutes on a 2-core CPU; within a pair both heads get exactly the
same command but --label-head. The second pair scales the label weight by 1 / 0.1 (10 -> 100), so that the 900
labelled images carry the label weight that pu-shapes' 9,000 did. tests/models/pu/test_label_heads.py checks the record against the card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADS = ("softmax", "bsvm")
LABELED_FRACTION = 0.1
DATA = ["--model", "pu", "--dataset", "shapes", "--labeled-fraction", str(LABELED_FRACTION), "--vocab-size", "0"]
# the runs recorded, each a folder of runs/ with one run per head: (label weight, epochs) of the recipe
RUNS = {"pu-label-heads": (10, 8), "pu-label-heads-w100": (100, 12)}


def recipe(label_weight: int, epochs: int) -> list[str]:
    """train.py's options after --label-head HEAD."""
    return [
        "--channels", "16,32", "--set", "kernel_sizes=[5,5]", "--set", "dec_kernel_sizes=[5,3]", "--set",
        "latent_channels=8", "--set", "code_kernel=3", "--set", "location_scale_init=0.1", "--set",
        "reader_channels=[16,16]", "--set", "reader_strides=[1,2]", "--set", "label_hidden=64", "--set",
        f"label_weight={label_weight}", "--lr", "5e-3", "--batch-size", "64", "--kl-schedule", "linear",
        "--warmup-epochs", "3", "--epochs", str(epochs), "--threads", "1", "--iwae-k", "0", "--maps", "none",
        "--no-progress",
    ]
KEYS = ("label_accuracy", "prediction_draws", "elbo_nats", "recon_nll_nats", "kl_nats", "active_units", "train_seconds")
SECTION = "\n## Label heads under semi-supervision: softmax and Bayesian SVM"


def train(out: Path, head: str, label_weight: int, epochs: int) -> None:
    """One train.py run of the recipe with this head into `out` (an earlier run there is replaced)."""
    if out.exists():
        shutil.rmtree(out)
    where = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.resolve()
    subprocess.run([sys.executable, "train.py", *DATA, "--label-head", head, *recipe(label_weight, epochs),
                    "--out", str(where)], check=True, cwd=ROOT)


def summary(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {**{k: metrics.get(k) for k in KEYS}, "label_head": config["config"]["label_head"],
            "label_weight": config["config"]["label_weight"], "command": config["command"],
            "epochs": config["training"]["epochs"]}


def record(runs: Path, card_dir: Path) -> dict:
    """Write card_dir/label_heads.json and the card section from the runs of RUNS under `runs`."""
    pairs = {name: {head: summary(runs / name / head) for head in HEADS} for name in RUNS}
    labelled = round(LABELED_FRACTION * 9000)
    record = {"labeled_fraction": LABELED_FRACTION, "labelled_train_items": labelled, "test_items": 1000,
              "runs": pairs,
              "note": "in each run the same train.py command but --label-head; test label accuracy of labels "
                      "predicted from scores averaged over the model's prediction draws of s (softmax "
                      "probabilities, or the bsvm's softmax of margins)"}
    (card_dir / "label_heads.json").write_text(json.dumps(record, indent=2) + "\n")
    header = "| | " + " | ".join(f"{h} (w {p[h]['label_weight']:g}, {p[h]['epochs']} ep.)" for p in pairs.values()
                                 for h in HEADS) + " |"
    cells = lambda f: " | ".join(f(p[h]) for p in pairs.values() for h in HEADS)  # noqa: E731
    draws = next(iter(pairs.values()))["softmax"]["prediction_draws"]
    rows = [
        header, "|---|" + "---|" * (len(pairs) * len(HEADS)),
        f"| test label accuracy ({draws} draws of s) | " + cells(lambda e: f"**{e['label_accuracy']:.3f}**") + " |",
        "| test ELBO (nats) | " + cells(lambda e: f"{e['elbo_nats']:.1f}") + " |",
        "| active units | " + cells(lambda e: str(e["active_units"])) + " |",
        "| training time (s) | " + cells(lambda e: f"{e['train_seconds']:.0f}") + " |",
    ]
    section = "\n".join([
        SECTION, "",
        f"Smaller models trained with {LABELED_FRACTION:.0%} of the training labels ({labelled} of 9,000 images; "
        "the others have no label term, `--labeled-fraction`, the same seeded mask for every run) and no caption "
        "head. Each pair is the same `train.py` command but `--label-head`; the pairs differ in the label weight "
        "(w) and the number of epochs (`label_heads.json`; `scripts/pu_label_heads.py` reruns them). Test split: "
        "the same 1,000 images as above, every label kept.",
        "", *rows, "",
        "The Bayesian SVM head (Pu et al.) replaces -log p(y | s) by a one-vs-rest hinge pseudo-likelihood, "
        "-log phi(y | s) = 2 sum_c max(1 - y_c f_c(s), 0) with y_c = +1 for the item's class and -1 for the others. "
        "Polson and Scott's augmentation writes each phi as a Gaussian scale mixture over lambda_c > 0, whose "
        "conditional is closed-form (1 / lambda_c is inverse Gaussian with mean 1 / |1 - y_c f_c|). Training takes "
        "one EM step per batch: lambda_c at that fixed point, then a gradient step on the lambda-weighted quadratic "
        "(1 - y_c f_c)^2 / (2 lambda_c) + (1 - y_c f_c) + lambda_c / 2, which equals the hinge in value and gradient "
        "there. Its `label_probabilities` are a softmax of the margins: scores that rank the classes as the SVM "
        "does, not calibrated probabilities.",
        "", "The commands of the bsvm runs:", "", "```", *(p["bsvm"]["command"] for p in pairs.values()), "```", ""])
    card = card_dir / "README.md"
    text = card.read_text().split(SECTION)[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default=str(ROOT / "runs"), help="folder holding the RUNS folders")
    p.add_argument("--card", default=str(ROOT / "pretrained" / "pu-shapes"), help="model folder whose card records them")
    p.add_argument("--record-only", action="store_true", help="do not train; record the runs already in --runs")
    p.add_argument("--only", choices=tuple(RUNS), help="train only this pair of RUNS (then record all)")
    args = p.parse_args(argv)
    runs = Path(args.runs)
    if not args.record_only:
        for name, (label_weight, epochs) in RUNS.items():
            for head in HEADS if args.only in (None, name) else ():
                train(runs / name / head, head, label_weight, epochs)
    print(json.dumps(record(runs, Path(args.card)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
