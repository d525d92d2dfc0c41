"""Appendix A's question over a whole test split: where do MSE, BCE and the VAE/GAN's learned similarity put the
one-pixel shift against the blur and the blank? (The loss lab answers it for one image at a time.)

    python references/vaegan_losslab_ranking.py pretrained/vaegan-mnist5k [--limit 500]

Each test item's variants are made and scored as the loss lab makes them (explorer.analysis.losslab; up by one pixel,
blur sigma 1, black background, the VAE/GAN's own reconstruction); prints, per measure, the share of items whose
shift is closer to the original than both the blur and the blank, and the mean rank of the shift among the three.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch


@torch.no_grad()
def main(argv: list[str] | None = None) -> int:
    from explorer.analysis import losslab
    from explorer.checkpoint import from_pretrained
    from explorer.data import load_dataset

    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--limit", type=int, default=500)
    args = p.parse_args(argv)
    model = from_pretrained(args.model, "cpu").eval()
    data = load_dataset(args.dataset)
    n = min(args.limit, len(data.test))
    measures = ("mse", "bce_variant_predicts", "ssim", "learned_similarity")
    first = {m: 0 for m in measures}
    ranks = {m: [] for m in measures}
    for i in range(n):
        x = data.test[i][0]
        recon = model.reconstruct(x[None])[0].numpy()
        variants = losslab.make_variants(x.numpy().astype(np.float64), recon, (-1, 0), 1.0, 0.0)
        stacked = torch.from_numpy(np.stack([v.astype(np.float32) for v in variants.values()]))
        features = dict(zip(variants, model.similarity_features(stacked).numpy()))
        result = losslab.score_variants(variants, features=features)
        for m in measures:
            order = [v for v in losslab.rank(result, m) if v in ("shifted", "blurred", "blank")]
            first[m] += order[0] == "shifted"
            ranks[m].append(order.index("shifted") + 1)
    out = {m: {"shift_closest_share": first[m] / n, "mean_rank_of_shift_of_3": float(np.mean(ranks[m]))}
           for m in measures}
    print(json.dumps({"items": n, "model": args.model, **out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
