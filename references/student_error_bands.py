"""Where does a distilled student's error against its teacher lie: in fine detail, or in the colour of whole regions?
On each held-out photograph of `photos`, whole (the frames `vae-distill` scores), the student decodes the teacher's
code; the error against the teacher's decode is then split into bands: a global per-channel offset, and the local mean
of the error over a square window (the low band). PSNR is given as is, without the offset, and without the low band.

    python references/student_error_bands.py pretrained/kl-f4-photos-student [--teacher pretrained/kl-f4-photos]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.analysis.teacher import psnr
from explorer.data import load_dataset
from explorer.preview.distill.crops import student_decode
from explorer.preview.distill.job import scoring_study
from explorer.preview.distill.scores import evaluation_frames, frame_refs


def main(argv: list[str] | None = None) -> None:
    args, teacher, student, factor = scoring_study(__doc__.split("\n\n")[0], argv, lambda ap: ap.add_argument(
        "--window", type=int, default=17, help="side of the low band's window (px, odd)"))
    refs = frame_refs(teacher, evaluation_frames(load_dataset("photos"), factor))
    print(f"| photograph | PSNR (dB) | without a global offset per channel | without the error's {args.window} px local "
          "mean | offset (R, G, B) |")
    print("|---|---|---|---|---|")
    with torch.no_grad():
        for name, code, ref in zip(refs.names, refs.codes, refs.decodes):
            shown = student_decode(student, code).clamp(0, 1)  # (1, 3, H, W)
            error = shown - ref
            offset = error.mean(dim=(2, 3), keepdim=True)  # (1, 3, 1, 1)
            low = F.avg_pool2d(error, args.window, stride=1, padding=args.window // 2, count_include_pad=False)
            said = ", ".join(f"{v:+.3f}" for v in offset.flatten().tolist())
            print(f"| {name} | {psnr(ref, shown):.2f} | {psnr(ref, shown - offset):.2f} | {psnr(ref, shown - low):.2f} "
                  f"| {said} |")


if __name__ == "__main__":
    main()
