"""Record the cvae-against-plain-conv comparison in the cvae's folder (comparison.json and a card section).

    python scripts/cvae_comparison.py pretrained/cvae-mnist5k runs/conv-mnist5k-60

Both folders come from train.py with the same command but --model; tests/models/cvae/test_pretrained.py reads
comparison.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = ("elbo_nats", "iwae_nll_nats", "recon_nll_nats", "kl_nats", "active_units", "train_seconds")


def summary(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {**{k: metrics.get(k) for k in KEYS}, "command": config["command"], "epochs": config["training"]["epochs"],
            "folder": folder.name}


def main(cvae: str, conv: str) -> int:
    cvae_dir, conv_dir = Path(cvae), Path(conv)
    record = {"cvae": summary(cvae_dir), "conv": summary(conv_dir),
              "note": "test ELBO of the cvae bounds log p(x | label); the conv's bounds log p(x); same command but --model"}
    (cvae_dir / "comparison.json").write_text(json.dumps(record, indent=2) + "\n")
    a, b = record["cvae"], record["conv"]
    rows = [f"| {name} | {a[k]:.2f} | {b[k]:.2f} |" if isinstance(a[k], float) else f"| {name} | {a[k]} | {b[k]} |"
            for name, k in (("test ELBO (nats)", "elbo_nats"), ("IWAE NLL, k = 1000 (nats)", "iwae_nll_nats"),
                            ("reconstruction NLL (nats)", "recon_nll_nats"), ("KL (nats)", "kl_nats"),
                            ("active units", "active_units"), ("training time (s)", "train_seconds"))]
    section = "\n".join([
        "", "## Against the plain conv model", "",
        f"The same command with `--model conv` ({b['epochs']} epochs; `comparison.json`). The cvae's scores are "
        "given each test item's label (log p(x | y)); the conv's are of log p(x).", "",
        "| | cvae | conv |", "|---|---|---|", *rows, "", "```", b["command"], "```", ""])
    card = cvae_dir / "README.md"
    text = card.read_text().split("\n## Against the plain conv model")[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
