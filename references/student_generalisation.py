"""How well does a distilled student follow its teacher on photographs it trained on, against ones it never saw, and
how much is lost at a frame's edge? For every photograph of `photos` (the seven training ones, then the held-out
ones), a centre crop of up to `--side` px (cut to the teacher's factor) is encoded and decoded by the teacher, and
decoded by the student from the teacher's code: PSNR over the whole crop and inside a 16 px border.

    python references/student_generalisation.py pretrained/kl-f4-photos-student [--teacher pretrained/kl-f4-photos]
"""

from __future__ import annotations

import torch

from explorer.analysis.teacher import cut_to_multiple, psnr
from explorer.data.photos import HELD_OUT, TRAIN_PHOTOS, load_photo
from explorer.preview.distill.crops import at_size, interior, student_decode
from explorer.preview.distill.job import scoring_study

BORDER_PX = 16


def main(argv: list[str] | None = None) -> None:
    args, teacher, student, factor = scoring_study(__doc__.split("\n\n")[0], argv, lambda ap: ap.add_argument(
        "--side", type=int, default=384, help="the centre crop's side, at most (px)"))
    print(f"| photograph | seen in training | crop | PSNR (dB) | inside a {BORDER_PX} px border (dB) |")
    print("|---|---|---|---|---|")
    for name in TRAIN_PHOTOS + HELD_OUT:
        photo = load_photo(name).float() / 255
        side_h, side_w = min(args.side, photo.shape[1]), min(args.side, photo.shape[2])
        top, left = (photo.shape[1] - side_h) // 2, (photo.shape[2] - side_w) // 2
        x = cut_to_multiple(photo[:, top:top + side_h, left:left + side_w], factor)[None]
        with torch.no_grad():
            code = teacher.encode_code(x).float()
            ref = teacher.decode_code(code).float().clamp(0, 1)
            out = student_decode(student, code)
        ref = at_size(ref, out.shape[-2])  # a half-size preview decoder is scored against the pooled decode
        border = BORDER_PX * out.shape[-2] // x.shape[-2]
        print(f"| {name} | {'yes' if name in TRAIN_PHOTOS else 'no'} | {x.shape[-2]}x{x.shape[-1]} | "
              f"{psnr(ref, out):.2f} | {psnr(interior(ref, border), interior(out, border)):.2f} |", flush=True)


if __name__ == "__main__":
    main()
