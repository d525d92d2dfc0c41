"""Record the cvae-against-plain-conv comparison in the cvae's folder (comparison.json and a card section).

    python references/cvae_comparison.py pretrained/cvae-mnist5k runs/conv-mnist5k-150

Both folders come from train.py with the same command but --model; tests/models/cvae/test_pretrained.py reads
comparison.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEYS = ("elbo_nats", "iwae_nll_nats", "recon_nll_nats", "kl_nats", "active_units", "train_seconds")


def summary(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {**{k: metrics.get(k) for k in KEYS}, "command": config["command"], "epochs": config["training"]["epochs"],
            "folder": folder.name}


def class_transfer(cvae_dir: Path) -> dict:
    """Per class, the share of other classes' test codes decoded under it that a reader calls it: the small CNN
    of tests/models/cvae/test_cvae_pretrained.py, and a logistic regression on the pixels (a weaker reader)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from explorer.analysis.class_transfer import class_transfer_shares, train_digit_reader
    from explorer.checkpoint import from_pretrained
    from explorer.data.embedded import load_mnist5k

    data = load_mnist5k()
    train_x, test_x = data.train.images.float().div(255), data.test.images.float().div(255)
    cnn = train_digit_reader(train_x, data.train.labels)
    logistic = LogisticRegression(max_iter=300, C=0.1).fit(train_x.flatten(1).numpy(), data.train.labels.numpy())
    model = from_pretrained(cvae_dir, device="cpu").eval()
    out = {}
    with torch.inference_mode():
        for name, read, reader_accuracy in (
                ("cnn", lambda im: cnn(im).argmax(1), float((cnn(test_x).argmax(1) == data.test.labels).float().mean())),
                ("logistic", lambda im: torch.as_tensor(logistic.predict(im.flatten(1).numpy())),
                 float(logistic.score(test_x.flatten(1).numpy(), data.test.labels.numpy())))):
            shares = class_transfer_shares(model, test_x, data.test.labels, read)
            out[name] = {"reader_test_accuracy": reader_accuracy, "shares": {str(c): v for c, v in shares.items()}}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cvae", help="the cvae's folder (its card gets the comparison)")
    p.add_argument("conv", help="the plain conv model's folder, trained with the same command but --model")
    args = p.parse_args(argv)
    cvae_dir, conv_dir = Path(args.cvae), Path(args.conv)
    record = {"cvae": summary(cvae_dir), "conv": summary(conv_dir),
              "note": "test ELBO of the cvae bounds log p(x | label); the conv's bounds log p(x); same command but --model",
              "class_transfer": class_transfer(cvae_dir)}
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
        "| | cvae | conv |", "|---|---|---|", *rows, "", "```", b["command"], "```", "",
        "## Class transfer", "",
        "Each test item's code (read under its own label) decoded under every class c; a reader trained on the "
        "training split says which digit each image shows. Share of the items of other classes that it calls c:", "",
        "| reader (its accuracy on the real test digits) | " + " | ".join(str(c) for c in range(10)) + " |",
        "|---|" + "---|" * 10,
        *[f"| {name} ({t['reader_test_accuracy']:.1%}) | " + " | ".join(f"{100 * v:.0f}%" for v in t["shares"].values()) + " |"
          for name, t in (("small CNN (the test's)", record["class_transfer"]["cnn"]),
                          ("logistic regression on pixels", record["class_transfer"]["logistic"]))], ""])
    card = cvae_dir / "README.md"
    text = card.read_text().split("\n## Against the plain conv model")[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
