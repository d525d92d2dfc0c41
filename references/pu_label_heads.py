"""Compare the pu family's label heads, softmax and Pu et al.'s Bayesian SVM (one-vs-rest, and Crammer-Singer),
on `shapes` with 10% of the training labels, and record the test label accuracies in pretrained/pu-shapes
(label_heads.json and a card section).

    python references/pu_label_heads.py                  # train every run of RUNS with train.py, then record
    python references/pu_label_heads.py --only pu-label-heads-w100 --variant bsvm-cs   # one run, then record
    python references/pu_label_heads.py --record-only    # record the runs already in runs/

The recipe is a smaller, shorter version of pu-shapes' own (16/32 maps instead of 32/48, 5x5 kernels, 8 or 12
epochs, no caption head) so that each run takes minutes on a 2-core CPU; within a group every run gets exactly
the same command but the head options. The second group scales the label weight by 1 / 0.1 (10 -> 100), so that
the 900 labelled images carry the label weight that pu-shapes' 9,000 did. tests/models/pu/test_label_heads.py
checks the record against the card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the label heads compared: train.py options given right after the data options
VARIANTS = {"softmax": ["--label-head", "softmax"], "bsvm": ["--label-head", "bsvm"],
            "bsvm-cs": ["--label-head", "bsvm", "--bsvm-multiclass", "crammer-singer"]}
LABELED_FRACTION = 0.1
DATA = ["--model", "pu", "--dataset", "shapes", "--labeled-fraction", str(LABELED_FRACTION), "--vocab-size", "0"]
# the runs recorded, each a folder of runs/ with one run per variant: (label weight, epochs, variants)
RUNS = {"pu-label-heads": (10, 8, ("softmax", "bsvm")), "pu-label-heads-w100": (100, 12, ("softmax", "bsvm", "bsvm-cs"))}


def recipe(label_weight: int, epochs: int) -> list[str]:
    """train.py's options after the head options."""
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


def train(out: Path, variant: str, label_weight: int, epochs: int) -> None:
    """One train.py run of the recipe with this variant's head into `out` (an earlier run there is replaced)."""
    if out.exists():
        shutil.rmtree(out)
    where = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.resolve()
    subprocess.run([sys.executable, "train.py", *DATA, *VARIANTS[variant], *recipe(label_weight, epochs),
                    "--out", str(where)], check=True, cwd=ROOT)


def summary(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {**{k: metrics.get(k) for k in KEYS}, "label_head": config["config"]["label_head"],
            # (runs from before the option existed were one-vs-rest, the only bsvm then)
            "bsvm_multiclass": config["config"].get("bsvm_multiclass", "one-vs-rest")
            if config["config"]["label_head"] == "bsvm" else None,
            "label_weight": config["config"]["label_weight"], "command": config["command"],
            "epochs": config["training"]["epochs"]}


def record(runs: Path, card_dir: Path) -> dict:
    """Write card_dir/label_heads.json and the card section from the runs of RUNS under `runs`."""
    pairs = {name: {v: summary(runs / name / v) for v in variants if (runs / name / v / "metrics.json").is_file()}
             for name, (_, _, variants) in RUNS.items()}  # (a run not made yet is left out)
    labelled = round(LABELED_FRACTION * 9000)
    record = {"labeled_fraction": LABELED_FRACTION, "labelled_train_items": labelled, "test_items": 1000,
              "runs": pairs,
              "note": "in each group the same train.py command but the head options; test label accuracy of labels "
                      "predicted from scores averaged over the model's prediction draws of s (softmax "
                      "probabilities, or the bsvm's softmax of margins)"}
    (card_dir / "label_heads.json").write_text(json.dumps(record, indent=2) + "\n")
    header = "| | " + " | ".join(f"{v} (w {e['label_weight']:g}, {e['epochs']} ep.)" for p in pairs.values()
                                 for v, e in p.items()) + " |"
    cells = lambda f: " | ".join(f(e) for p in pairs.values() for e in p.values())  # noqa: E731
    columns = sum(len(p) for p in pairs.values())
    draws = next(iter(pairs.values()))["softmax"]["prediction_draws"]
    rows = [
        header, "|---|" + "---|" * columns,
        f"| test label accuracy ({draws} draws of s) | " + cells(lambda e: f"**{e['label_accuracy']:.3f}**") + " |",
        "| test ELBO (nats) | " + cells(lambda e: f"{e['elbo_nats']:.1f}") + " |",
        "| active units | " + cells(lambda e: str(e["active_units"])) + " |",
        "| training time (s) | " + cells(lambda e: f"{e['train_seconds']:.0f}") + " |",
    ]
    section = "\n".join([
        SECTION, "",
        f"Smaller models trained with {LABELED_FRACTION:.0%} of the training labels ({labelled} of 9,000 images; "
        "the others have no label term, `--labeled-fraction`, the same seeded mask for every run) and no caption "
        "head. Within a group the runs have the same `train.py` command but the head (`--label-head`, and "
        "`--bsvm-multiclass crammer-singer` for bsvm-cs; bsvm alone is one-vs-rest); the groups differ in the "
        "label weight (w) and the number of epochs (`label_heads.json`; `references/pu_label_heads.py` reruns them). Test split: "
        "the same 1,000 images as above, every label kept.",
        "", *rows, "",
        "The Bayesian SVM head (Pu et al.) replaces -log p(y | s) by a one-vs-rest hinge pseudo-likelihood, "
        "-log phi(y | s) = 2 sum_c max(1 - y_c f_c(s), 0) with y_c = +1 for the item's class and -1 for the others "
        "(bsvm-cs: one hinge on the Crammer-Singer margin f_y - max_{c != y} f_c). "
        "Polson and Scott's augmentation writes each phi as a Gaussian scale mixture over lambda_c > 0, whose "
        "conditional is closed-form (1 / lambda_c is inverse Gaussian with mean 1 / |1 - y_c f_c|). Training takes "
        "one EM step per batch: lambda_c at that fixed point, then a gradient step on the lambda-weighted quadratic "
        "(1 - y_c f_c)^2 / (2 lambda_c) + (1 - y_c f_c) + lambda_c / 2, which equals the hinge in value and gradient "
        "there. Its `label_probabilities` are a softmax of the margins: scores that rank the classes as the SVM "
        "does, not calibrated probabilities.",
        "", "The commands of the bsvm runs:", "", "```", *(e["command"] for p in pairs.values() for v, e in p.items()
                                                          if v != "softmax"), "```", ""])
    card = card_dir / "README.md"
    text = card.read_text().split(SECTION)[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default=str(ROOT / "runs"), help="folder holding the RUNS folders")
    p.add_argument("--card", default=str(ROOT / "pretrained" / "pu-shapes"), help="model folder whose card records them")
    p.add_argument("--record-only", action="store_true", help="do not train; record the runs already in --runs")
    p.add_argument("--only", choices=tuple(RUNS), help="train only this group of RUNS (then record all)")
    p.add_argument("--variant", choices=tuple(VARIANTS), help="train only this variant (then record all)")
    args = p.parse_args(argv)
    runs = Path(args.runs)
    if not args.record_only:
        for name, (label_weight, epochs, variants) in RUNS.items():
            for variant in variants if args.only in (None, name) else ():
                if args.variant in (None, variant):
                    train(runs / name / variant, variant, label_weight, epochs)
    print(json.dumps(record(runs, Path(args.card)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
