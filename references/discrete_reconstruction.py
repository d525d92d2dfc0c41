"""Discrete codes beside a Gaussian code on reconstruction: per-pixel NLL and PSNR over each checkpoint's own test
split, and (for discrete models) data-set-level code usage; one markdown table row per checkpoint.

    python references/discrete_reconstruction.py pretrained/conv-mnist5k pretrained/vq-mnist5k pretrained/fsq-mnist5k

With --without-replacement RUN, the first checkpoint (a VQ-VAE with dead-code replacement) gets RUN's usage (the
same recipe without replacement) in its metrics.json, each figure with its description, and a card section:

    python references/discrete_reconstruction.py pretrained/vq-mnist5k --without-replacement runs/vq-mnist5k-nodead
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from explorer.analysis.codebook import dataset_usage, reconstruction_metrics
from explorer.checkpoint import from_pretrained, read_config
from explorer.data import load_dataset, stack_images


def row(folder: str) -> str:
    """`| model | code | per-pixel NLL | PSNR | codes used | perplexity / K |` for one checkpoint."""
    model = from_pretrained(folder, device="cpu").eval()
    meta = read_config(folder)["dataset"]
    data = load_dataset(meta["name"], **meta.get("options", {}))
    images, _ = stack_images(data.test)
    rec = reconstruction_metrics(model, images, model.config.likelihood)
    if model.capabilities().discrete_code:
        usage = dataset_usage(model, data.test)
        level = model.code_levels()[0]
        code = f"{level.grid[0]}x{level.grid[1]} grid of {level.codebook_size} codes"
        used = ", ".join(f"{u.used} ({100 * u.share_in_use:.1f}%)" for u in usage)
        ratio = ", ".join(f"{u.perplexity / u.codebook_size:.3f}" for u in usage)
    else:
        code, used, ratio = f"Gaussian, {'x'.join(map(str, model.latent_shape))}", "", ""
    return (f"| `{folder}` | {code} | {rec['nll_per_pixel_nats']:.4f} | {rec['psnr_db']:.2f} | {used} | {ratio} | "
            f"{len(images)} |")


SECTION = "\n## Without dead-code replacement"


def record_without_replacement(folder: str, run: str) -> None:
    """RUN's data-set-level usage into folder's metrics.json (with descriptions) and a section of its card."""
    metrics_path, card_path = Path(folder) / "metrics.json", Path(folder) / "README.md"
    metrics = json.loads(metrics_path.read_text())
    other = json.loads((Path(run) / "metrics.json").read_text())
    command = json.loads((Path(run) / "config.json").read_text()).get("command", "")
    descriptions = metrics.setdefault("metric_descriptions", {})
    for key in ("codes_used", "perplexity", "dead_codes"):
        metrics[f"{key}_without_replacement"] = other[key]
        descriptions[f"{key}_without_replacement"] = (f"{descriptions.get(key, key)}, for the same recipe without "
                                                      "dead-code replacement")
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    k = metrics["codebook_size"]
    section = (f"{SECTION}\n\nThe same recipe without `--dead-code-threshold` (`{command}`) uses "
               f"**{other['codes_used']} of {k}** codes over the test split (perplexity {other['perplexity']:.1f}, "
               f"{other['dead_codes']} dead); with replacement this model uses **{metrics['codes_used']} of {k}** "
               f"(perplexity {metrics['perplexity']:.1f}, {metrics['dead_codes']} dead). Reconstruction NLL per pixel "
               f"value: {other['nll_per_pixel_nats']:.4f} without, {metrics['nll_per_pixel_nats']:.4f} with.\n")
    text = card_path.read_text().split(SECTION)[0].rstrip("\n") + "\n"
    card_path.write_text(text + section)
    print(section.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--without-replacement", metavar="RUN",
                    help="record RUN's usage (no dead-code replacement) in the first checkpoint's metrics and card")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.without_replacement:
        record_without_replacement(args.checkpoints[0], args.without_replacement)
        return
    print("| model | code | NLL per pixel value (nats) | PSNR (dB) | codes used (test split) | perplexity / K | test items |")
    print("|---|---|---|---|---|---|---|")
    for folder in args.checkpoints:
        print(row(folder), flush=True)


if __name__ == "__main__":
    main()
