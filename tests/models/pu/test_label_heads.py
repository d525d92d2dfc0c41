"""pretrained/pu-shapes/label_heads.json (references/pu_label_heads.py): in each group the label heads (softmax,
Bayesian SVM one-vs-rest, Bayesian SVM Crammer-Singer) were trained by the same command but the head options at
10% labels, and the card shows every test accuracy."""

import json
import shlex
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[3] / "pretrained" / "pu-shapes"
HEAD_OPTIONS = ("--label-head", "--bsvm-multiclass", "--out")


def _options(command: str) -> list[str]:
    """The command's words without the head options and --out."""
    words = shlex.split(command)
    drop = {j for i, w in enumerate(words) if w in HEAD_OPTIONS for j in (i, i + 1)}
    return [w for i, w in enumerate(words) if i not in drop]


def test_each_group_shares_one_recipe_and_every_accuracy_is_in_the_card():
    record = json.loads((FOLDER / "label_heads.json").read_text())
    assert record["labeled_fraction"] == 0.1 and record["runs"]
    card = (FOLDER / "README.md").read_text()
    section = card.split("## Label heads under semi-supervision")[1]
    for runs in record["runs"].values():
        assert {"softmax", "bsvm"} <= set(runs)
        for variant, entry in runs.items():
            head = "softmax" if variant == "softmax" else "bsvm"
            assert entry["label_head"] == head and f"--label-head {head}" in entry["command"]
            assert ("--bsvm-multiclass crammer-singer" in entry["command"]) == (variant == "bsvm-cs")
            assert entry["bsvm_multiclass"] == {"softmax": None, "bsvm": "one-vs-rest", "bsvm-cs": "crammer-singer"}[variant]
            assert "--labeled-fraction 0.1" in entry["command"] and 0.0 <= entry["label_accuracy"] <= 1.0
            assert f"**{entry['label_accuracy']:.3f}**" in section
        assert len({tuple(_options(entry["command"])) for entry in runs.values()}) == 1  # only the head differs
