"""Distil a diffusers AutoencoderKL into a small `AutoencoderTiny` preview decoder (and encoder), as TAESD is made.

    vae-distill pretrained/kl-f4-photos --data photos --minutes 30 --out pretrained/kl-f4-photos-student
    vae-distill path/to/sd-vae --data photos --minutes 60                  # into the cache, keyed by the teacher
    vae-distill pretrained/kl-f4-photos --data photos --out DIR --resume   # go on from DIR/checkpoint

Without --out the student goes to CACHE/models/<teacher weights digest>/preview/student-v1/, where the app finds it
(explorer.preview.distill.folder.find_student); a teacher whose weights change gets a new one. A finished student for
the same teacher weights is reused as it is. Bad input prints `error: ...` (one line) and exits 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from explorer.checkpoint import CheckpointError, resolve_device
from explorer.cli.errors import USER_ERRORS, CliParser, run_main
from explorer.cli.progress import Bars
from explorer.cli.threads import current_load, default_threads
from explorer.denormals import flush_denormals
from explorer.models.foreign.errors import ForeignModelError
from explorer.preview.distill.job import distill_teacher
from explorer.preview.distill.trainer import DistillConfig
from explorer.runtime.progress import Progress


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    d = DistillConfig()
    p = CliParser(prog="vae-distill", description=__doc__.split("\n\n")[0])
    p.add_argument("model", metavar="MODEL", help="the teacher: a diffusers AutoencoderKL folder or single .safetensors file")
    p.add_argument("--data", required=True, help="training data set (explorer.data.available_datasets(); photos ships)")
    p.add_argument("--data-root", default=None, help="folder of a folder-based data set")
    p.add_argument("--out", default=None, help="student folder (default: the cache entry of the teacher's weights)")
    p.add_argument("--resume", action="store_true", help="go on from OUT/checkpoint (same teacher, --width and --decoder-factor)")
    p.add_argument("--minutes", type=float, default=d.minutes, help=f"training time budget (default {d.minutes:g})")
    p.add_argument("--steps", type=int, default=d.max_steps, help="also stop after this many steps (default 0: no limit)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"crops per step (default {d.batch_size})")
    p.add_argument("--crop-cells", type=int, default=d.crop_cells,
                   help=f"latent cells a side of a training crop (default {d.crop_cells})")
    p.add_argument("--border", type=int, default=d.border,
                   help=f"latent cells dropped at each side of a crop's targets, at least 4 (default {d.border})")
    p.add_argument("--width", type=int, default=32, help="student channels of every conv (default 32; TAESD: 64)")
    p.add_argument("--decoder-factor", type=int, default=0,
                   help="pixels per latent cell the student's decoder writes (default: the teacher's factor; half of "
                        "it makes a half-size preview decoder, about twice as fast: an SD code of 4x32x32 -> 128 px)")
    p.add_argument("--frame-cells", type=int, default=d.frame_cells,
                   help=f"latent cells a side of the frames the teacher decodes whole (default {d.frame_cells}: 192 px "
                        "at f4; photos cuts at most 256 px, so at f8 use --frame-cells 32 --crop-cells 24)")
    p.add_argument("--bank-size", type=int, default=d.bank_size,
                   help=f"teacher frames kept (default {d.bank_size})")
    p.add_argument("--refresh", type=int, default=d.refresh,
                   help=f"frames replaced by new draws per refresh (default {d.refresh})")
    p.add_argument("--colour-jitter", type=float, default=d.colour_jitter,
                   help=f"random per-channel gain and gamma on each frame, from 1 - J to 1 + J (default "
                        f"{d.colour_jitter:g}: none)")
    p.add_argument("--refresh-every", type=int, default=d.refresh_every,
                   help=f"steps between refreshes (default {d.refresh_every}; large frames cost the teacher more "
                        "than a student step)")
    p.add_argument("--encoder-every", type=int, default=d.encoder_every,
                   help=f"train the encoder on one step in this many (default {d.encoder_every})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam's peak learning rate (default {d.lr:g})")
    p.add_argument("--edge-weight", type=float, default=d.edge_weight,
                   help=f"weight of the image-gradient L1 beside the MSE (default {d.edge_weight:g})")
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes,
                   help=f"minutes between checkpoints (default {d.checkpoint_minutes:g})")
    p.add_argument("--eval-max-side", type=int, default=0,
                   help="centre-crop the full frames scored at the end to this many px a side (default 0: whole)")
    p.add_argument("--no-onnx-timing", action="store_true", help="skip timing the ONNX decoder at 32x32 and 64x64 latents")
    p.add_argument("--no-linear", action="store_true", help="skip fitting the linear tier to give its PSNR beside the student's")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the crops and the student's weights")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: the idle cores)")
    p.add_argument("--cache-dir", default=None, help="cache folder (default $VAE_EXPLORER_CACHE or ~/.cache/vae-explorer)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    config = DistillConfig(crop_cells=args.crop_cells, border=args.border, batch_size=args.batch_size, lr=args.lr,
                           frame_cells=args.frame_cells, bank_size=args.bank_size, refresh=args.refresh,
                           refresh_every=args.refresh_every, colour_jitter=args.colour_jitter,
                           encoder_every=args.encoder_every,
                           minutes=args.minutes, max_steps=args.steps, checkpoint_minutes=args.checkpoint_minutes,
                           edge_weight=args.edge_weight, seed=args.seed)
    if not 4 <= args.width <= 256:
        raise ValueError(f"--width {args.width}: must be from 4 to 256 channels")
    if args.eval_max_side < 0:
        raise ValueError(f"--eval-max-side {args.eval_max_side}: must be 0 (whole frames) or more")
    if not Path(args.model).exists():
        raise FileNotFoundError(f"MODEL {args.model} does not exist: give a diffusers AutoencoderKL folder or an "
                                "original-layout .safetensors VAE file")
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()  # AutoencoderTiny's reload warns of a config key its own __init__ writes
    flush_denormals()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == "cpu":
        threads, note = default_threads(torch.get_num_threads(), load=current_load())
        torch.set_num_threads(threads)
        if note:
            print(note, file=sys.stderr)
    bars = Bars(not args.no_progress)

    def progress(p: Progress) -> None:
        bars.fraction("distilling", p.fraction, p.block)

    def log(line: str) -> None:
        if args.no_progress:
            print(line, file=sys.stderr, flush=True)

    try:
        result = distill_teacher(args.model, args.data, out=args.out, config=config, width=args.width,
                                 decoder_factor=args.decoder_factor,
                                 resume=args.resume, data_root=args.data_root, cache_dir=args.cache_dir, device=device,
                                 eval_max_side=args.eval_max_side, time_onnx=not args.no_onnx_timing,
                                 score_linear=not args.no_linear,
                                 command="vae-distill " + shlex.join(argv), on_progress=progress, log=log)
    finally:
        bars.close()
    scores = result.scores
    print(f"{'cached' if result.status == 'cached' else 'distilled'} student of {args.model}: {result.files.folder}")
    if scores:
        print(f"PSNR against the teacher on full frames: student {scores['mean_decoder_psnr_db']:.2f} dB, "
              f"linear tier {scores.get('mean_linear_psnr_db', float('nan')):.2f} dB; "
              f"{result.files.info.get('steps', 0):,} steps in {result.files.info.get('train_seconds', 0) / 60:.1f} min")
    print(f"ONNX decoder: {result.files.decoder_onnx}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `vae-distill` console script: 0 on success, 2 (with one line `error: ...`) on bad input."""
    return run_main(run, argv, errors=(CheckpointError, ForeignModelError, *USER_ERRORS),
                    interrupted="interrupted: the last checkpoint is kept (--resume goes on from it)")


if __name__ == "__main__":
    sys.exit(main())
