"""How local is a region edit of the shipped teacher's code? For painted discs at a few places of two held-out
photographs, the ratio of the mean |delta| of the full decode inside the region to that outside the region grown
by 8 px, per direction and amount (the spatial walk's axes and walk: explorer.analysis.channels).

    python -m references.region_locality [pretrained/kl-f4-photos]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from explorer.analysis import channels as ch
from explorer.checkpoint import CheckpointError, from_pretrained
from explorer.data.photos import load_photo

CENTRES = ((5, 5), (8, 8), (10, 4), (6, 6))  # disc centres, in code cells of a 16 x 16 code
MOVES = ((0, 0.25), (0, 0.5), (0, 3.0), (1, 1.0), (1, 3.0))  # (direction index, spreads)


def main(model) -> None:
    """Prints, for each photograph and disc, the inside / outside ratio of each move of MOVES."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for name in ("chelsea", "coffee"):
        photo = load_photo(name)
        top, left = (photo.shape[1] - 64) // 2, (photo.shape[2] - 64) // 2
        with torch.no_grad():
            code = model.encode_code(photo[None, :, top:top + 64, left:left + 64].float())[0].double().numpy()
        axes = ch.walk_axes(ch.channel_pca(code), code[None])  # the page's axes
        _c, h, w = code.shape
        yy, xx = np.mgrid[:h, :w]
        for cy, cx in CENTRES:
            mask = (((yy - cy) ** 2 + (xx - cx) ** 2) <= 4).astype(float)  # a disc of radius 2 cells
            region = np.kron(mask, np.ones((64 // h, 64 // w))).astype(bool)
            grown = binary_dilation(region, structure=np.ones((3, 3)), iterations=8)
            ratios = []
            for axis, amount in MOVES:
                values = np.zeros(len(axes.labels))
                values[axis] = amount
                with torch.no_grad():
                    before, after = (model.decode_code(torch.from_numpy(z[None]).float())[0].numpy()
                                     for z in (code, ch.walked(code, axes, values, mask)))
                delta = np.abs(after - before).mean(0)
                ratios.append(f"direction {axis + 1} x {amount:g}: {delta[region].mean() / delta[~grown].mean():.1f}")
            print(f"{name}, disc at cell {(cy, cx)}: " + ", ".join(ratios), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="pretrained/kl-f4-photos", help="a spatial-code model's folder")
    folder = parser.parse_args().folder
    try:
        model = from_pretrained(folder, "cpu")
    except CheckpointError as exc:
        parser.error(f"folder: {exc}")
    main(model)
