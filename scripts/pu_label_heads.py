"""Compare the pu family's two label heads, softmax and Pu et al.'s Bayesian SVM, on `shapes` with 10% of the
training labels, and record both test label accuracies in pretrained/pu-shapes (label_heads.json and a card
section).

    python scripts/pu_label_heads.py                  # train both (train.py, same recipe but --label-head), record
    python scripts/pu_label_heads.py --record-only    # record from runs/pu-label-heads/{softmax,bsvm} as they are

The recipe is a smaller, shorter version of pu-shapes' own (16/32 maps instead of 32/48, 5x5 kernels, 8 epochs,
no caption head) so that each run takes minutes on a 2-core CPU; both heads get exactly the same command but
--label-head. tests/models/pu/test_label_heads.py checks the record against the card.
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
RECIPE = [  # after --label-head HEAD
    "--channels", "16,32", "--set", "kernel_sizes=[5,5]", "--set", "dec_kernel_sizes=[5,3]", "--set", "latent_channels=8",
    "--set", "code_kernel=3", "--set", "location_scale_init=0.1", "--set", "reader_channels=[16,16]",
    "--set", "reader_strides=[1,2]", "--set", "label_hidden=64", "--set", "label_weight=10", "--lr", "5e-3",
    "--batch-size", "64", "--kl-schedule", "linear", "--warmup-epochs", "3", "--epochs", "8", "--threads", "1",
    "--iwae-k", "0", "--maps", "none", "--no-progress",
]
KEYS = ("label_accuracy", "prediction_draws", "elbo_nats", "recon_nll_nats", "kl_nats", "active_units", "train_seconds")
SECTION = "\n## Label heads under semi-supervision: softmax and Bayesian SVM"


def train(runs: Path, head: str) -> None:
    """One train.py run of the recipe with this head into runs/head (an earlier run there is replaced)."""
    out = runs / head
    if out.exists():
        shutil.rmtree(out)
    where = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.resolve()
    subprocess.run([sys.executable, "train.py", *DATA, "--label-head", head, *RECIPE, "--out", str(where)],
                   check=True, cwd=ROOT)


def summary(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {**{k: metrics.get(k) for k in KEYS}, "label_head": config["config"]["label_head"],
            "command": config["command"], "epochs": config["training"]["epochs"]}


def record(runs: Path, card_dir: Path) -> dict:
    """Write card_dir/label_heads.json and the card section from the two runs; returns the record."""
    heads = {head: summary(runs / head) for head in HEADS}
    labelled = round(LABELED_FRACTION * 9000)
    record = {"labeled_fraction": LABELED_FRACTION, "labelled_train_items": labelled, "test_items": 1000,
              "heads": heads,
              "note": "same train.py command but --label-head; test label accuracy of labels predicted from "
                      "scores averaged over the model's prediction draws of s (softmax probabilities, or the "
                      "bsvm's softmax of margins)"}
    (card_dir / "label_heads.json").write_text(json.dumps(record, indent=2) + "\n")
    a, b = heads["softmax"], heads["bsvm"]
    rows = [
        f"| test label accuracy ({a['prediction_draws']} draws of s) | **{a['label_accuracy']:.3f}** | **{b['label_accuracy']:.3f}** |",
        f"| test ELBO (nats) | {a['elbo_nats']:.1f} | {b['elbo_nats']:.1f} |",
        f"| reconstruction NLL / KL (nats) | {a['recon_nll_nats']:.1f} / {a['kl_nats']:.1f} | {b['recon_nll_nats']:.1f} / {b['kl_nats']:.1f} |",
        f"| active units | {a['active_units']} | {b['active_units']} |",
        f"| training time (s) | {a['train_seconds']:.0f} | {b['train_seconds']:.0f} |",
    ]
    section = "\n".join([
        SECTION, "",
        f"Two smaller models trained with {LABELED_FRACTION:.0%} of the training labels ({labelled} of 9,000 images; "
        "the others have no label term, `--labeled-fraction`, the same seeded mask for both) and no caption "
        f"head, {a['epochs']} epochs, the same `train.py` command but `--label-head` (`label_heads.json`; "
        "`scripts/pu_label_heads.py` reruns both). Test split: the same 1,000 images as above, every label kept.",
        "",
        "| | softmax | Bayesian SVM (`bsvm`) |", "|---|---|---|", *rows, "",
        "The Bayesian SVM head (Pu et al.) replaces -log p(y | s) by a one-vs-rest hinge pseudo-likelihood, "
        "-log phi(y | s) = 2 sum_c max(1 - y_c f_c(s), 0) with y_c = +1 for the item's class and -1 for the others. "
        "Polson and Scott's augmentation writes each phi as a Gaussian scale mixture over lambda_c > 0, whose "
        "conditional is closed-form (1 / lambda_c is inverse Gaussian with mean 1 / |1 - y_c f_c|). Training takes "
        "one EM step per batch: lambda_c at that fixed point, then a gradient step on the lambda-weighted quadratic "
        "(1 - y_c f_c)^2 / (2 lambda_c) + (1 - y_c f_c) + lambda_c / 2, which equals the hinge in value and gradient "
        "there. Its `label_probabilities` are a softmax of the margins: scores that rank the classes as the SVM "
        "does, not calibrated probabilities.",
        "", "```", b["command"], "```", ""])
    card = card_dir / "README.md"
    text = card.read_text().split(SECTION)[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default=str(ROOT / "runs" / "pu-label-heads"), help="folder of the two runs")
    p.add_argument("--card", default=str(ROOT / "pretrained" / "pu-shapes"), help="model folder whose card records them")
    p.add_argument("--record-only", action="store_true", help="do not train; record the runs already in --runs")
    args = p.parse_args(argv)
    runs = Path(args.runs)
    if not args.record_only:
        runs.mkdir(parents=True, exist_ok=True)
        for head in HEADS:
            train(runs, head)
    print(json.dumps(record(runs, Path(args.card)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
