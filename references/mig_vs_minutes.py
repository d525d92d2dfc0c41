"""Does more training time buy disentanglement? Each dSprites model's MIG (its metrics.json, as `vae-evaluate ...
--metrics disentanglement` wrote it) against the minutes it trained, one point per training seed, drawn as an SVG.

    python references/mig_vs_minutes.py pretrained/vae-dsprites runs/vae-dsprites-seed1 pretrained/betavae-dsprites \
        pretrained/tcvae-dsprites runs/tcvae-dsprites-seed1 --out docs/diagrams/mig-vs-minutes.svg

A folder is named by its recipe (its name without "-seedN") and its seed (0 unless the name ends in "-seedN").
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

MIG_KEY = "dsprites/mig"


def read_point(folder: Path) -> dict:
    """{recipe, seed, minutes, mig, spread} of one evaluated model folder (ValueError when it has no MIG yet)."""
    metrics = json.loads((folder / "metrics.json").read_text())
    mig = (metrics.get("disentanglement") or {}).get(MIG_KEY)
    if mig is None:
        raise ValueError(f"{folder}: no {MIG_KEY} in metrics.json; run vae-evaluate {folder} --dataset dsprites "
                         "--metrics disentanglement --quick first")
    found = re.fullmatch(r"(.+)-seed(\d+)", folder.name)
    recipe, seed = (found.group(1), int(found.group(2))) if found else (folder.name, 0)
    return {"recipe": recipe, "seed": seed, "minutes": float(metrics["train_seconds"]) / 60,
            "mig": float(mig["value"]), "spread": float(mig.get("spread", 0.0))}


def draw(points: list[dict], out: Path) -> None:
    """MIG against training minutes, a colour per recipe, a marker per seed, error bars from the metric's own
    sampling seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "mig-vs-minutes"  # the same points give the same file
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    markers = {0: "o", 1: "s"}
    for i, recipe in enumerate(sorted({p["recipe"] for p in points})):
        mine = sorted((p for p in points if p["recipe"] == recipe), key=lambda p: p["seed"])
        for p in mine:
            ax.errorbar(p["minutes"], p["mig"], yerr=p["spread"], fmt=markers.get(p["seed"], "^"), color=f"C{i}",
                        capsize=3, label=f"{recipe}, seed {p['seed']}")
    ax.set_xlabel("training minutes (one CPU thread)")
    ax.set_ylabel("MIG (dSprites, posterior means)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", type=Path, help="evaluated dSprites model folders")
    ap.add_argument("--out", type=Path, default=Path("docs/diagrams/mig-vs-minutes.svg"))
    args = ap.parse_args(argv)
    points = [read_point(folder) for folder in args.folders]
    print("| model | seed | training minutes | MIG |")
    print("|---|---|---|---|")
    for p in sorted(points, key=lambda p: (p["recipe"], p["seed"])):
        print(f"| {p['recipe']} | {p['seed']} | {p['minutes']:.0f} | {p['mig']:.3f} ± {p['spread']:.3f} |")
    draw(points, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
