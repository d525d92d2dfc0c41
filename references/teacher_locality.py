"""How much of the shipped teacher's decode of a photograph depends on the whole photograph, rather than on the code
near each pixel? A student of TAESD's form (convolutions only, no normalisation) sees a bounded window of the code;
the teacher's decoder normalises every block with GroupNorm, whose statistics are taken over the whole frame. On each
held-out photograph of `photos`, whole (the frames `vae-distill` scores), the teacher decodes its own code in tiles of
N cells, each with `--context` cells more at every side, and keeps each tile's centre: PSNR against its decode of the
whole frame at once, beside the student's. Then the teacher against the photograph itself: decoding the whole frame
at once, and as the explorer loads the folder (diffusers' tiling at the crop size it was trained on, `tile` in its
teacher.json: tiles overlapping by a quarter, blended), and the student against that decode (of that tiled encode's code).

    python references/teacher_locality.py pretrained/kl-f4-photos-student [--teacher pretrained/kl-f4-photos]
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from explorer.analysis.teacher import psnr
from explorer.data import load_dataset
from explorer.models.base import VAE
from explorer.preview.distill.crops import student_decode
from explorer.preview.distill.job import scoring_study
from explorer.preview.distill.scores import evaluation_frames, frame_refs


def tiled_decode(teacher: VAE, code: Tensor, tile: int, context: int, factor: int) -> Tensor:
    """The teacher's decode (1, C, H * f, W * f) of `code` (1, C_lat, H, W), `tile` cells at a time: each tile is
    decoded with `context` cells more at every side (fewer at the frame's edge) and only its own cells are kept."""
    height, width = code.shape[-2:]
    step = tile - 2 * context
    if step < 1:
        raise ValueError(f"a tile of {tile} cells keeps nothing with {context} cells of context at each side")
    out = None
    for top in range(0, height, step):
        for left in range(0, width, step):
            t0, l0 = max(0, top - context), max(0, left - context)
            t1, l1 = min(height, top + step + context), min(width, left + step + context)
            decoded = teacher.decode_code(code[..., t0:t1, l0:l1]).float().clamp(0, 1)
            if out is None:
                out = decoded.new_zeros(1, decoded.shape[1], height * factor, width * factor)
            rows, cols = min(step, height - top) * factor, min(step, width - left) * factor
            ty, tx = (top - t0) * factor, (left - l0) * factor
            out[..., top * factor:top * factor + rows, left * factor:left * factor + cols] = \
                decoded[..., ty:ty + rows, tx:tx + cols]
    return out


def _options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--tiles", type=int, nargs="+", default=[24, 48, 96], help="tile sides to decode in (cells)")
    ap.add_argument("--context", type=int, default=8, help="cells of context at each side of a tile")


def main(argv: list[str] | None = None) -> None:
    args, teacher, student, factor = scoring_study(__doc__.split("\n\n")[0], argv, _options)
    frames = evaluation_frames(load_dataset("photos"), factor)
    with teacher.whole_frames():  # each frame in one piece, as diffusers decodes a folder by default
        refs = frame_refs(teacher, frames)
    tiles = " | ".join(f"teacher in {t}-cell tiles" for t in args.tiles)
    print(f"| photograph | code (cells) | student vs the teacher's whole-frame decode | {tiles} | the teacher vs the "
          "photograph: whole frame / in its tiles, as loaded | the student vs the teacher's tiled decode |")
    print("|---|---|---|" + "---|" * len(args.tiles) + "---|---|")
    with torch.no_grad():
        for name, image, code, whole in zip(refs.names, refs.images, refs.codes, refs.decodes):
            shown = student_decode(student, code).clamp(0, 1)
            with teacher.whole_frames():
                tiled = " | ".join(f"{psnr(whole, tiled_decode(teacher, code, t, args.context, factor)):.2f}"
                                   for t in args.tiles)
            # as the explorer loads the folder: encoded and decoded in tiles of its training crops (teacher.json)
            loaded_code = teacher.encode_code(image).float()
            as_loaded = teacher.decode_code(loaded_code).float().clamp(0, 1)
            follows = psnr(as_loaded, student_decode(student, loaded_code).clamp(0, 1))
            print(f"| {name} | {code.shape[-2]}x{code.shape[-1]} | {psnr(whole, shown):.2f} | {tiled} | "
                  f"{psnr(image, whole):.2f} / {psnr(image, as_loaded):.2f} | {follows:.2f} |", flush=True)

if __name__ == "__main__":
    main()
