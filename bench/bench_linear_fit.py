"""Fit time of the linear latent -> RGB preview (explorer.preview.linear) for 4, 16 and 64 code channels, and its
PSNR against the full decode. Target: each fit at most 30 s.

    .venv/bin/python -m bench.bench_linear_fit              # 4, 16, 64 channels, small f8 configs
    .venv/bin/python -m bench.bench_linear_fit --sd         # also the SD 1.x config at 256 px
    .venv/bin/python -m bench.bench_linear_fit --smoke      # one tiny config, 8 tiles

Each model is a random-weight diffusers AutoencoderKL saved with save_pretrained and loaded through the
explorer's loader (so the code space is the scaled one the pages show). "job s" is the whole fit: encoding the
photograph crops, decoding the 64 tiles and the least-squares solve ("solve s", the fit proper). The PSNR compares the preview (upsampled,
nearest) with the full decode of held-out crops (a seed the fit never saw), and the cell means of that decode.
Random weights decode to textures that no linear map reproduces, so the PSNR here says little about a trained
VAE's; the fit time is the figure this bench is for.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F
from bench.smoke import add_smoke_option, announce_smoke

SMALL = {"block_out_channels": (32, 64, 64, 64), "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 128}
SD = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "sample_size": 256, "scaling_factor": 0.18215}
TINY = {"block_out_channels": (8, 16), "layers_per_block": 1, "norm_num_groups": 4, "sample_size": 32}
TARGET_S = 30.0  # the fit; the whole job for the SD config: at most 3 minutes


def build(folder: Path, config: dict, channels: int):
    """A random-weight AutoencoderKL of config with `channels` latent channels, saved and loaded as an explorer VAE."""
    from diffusers import AutoencoderKL

    from explorer.models.foreign.diffusers_kl import load_diffusers_kl

    torch.manual_seed(0)
    blocks = len(config["block_out_channels"])
    AutoencoderKL(latent_channels=channels, down_block_types=("DownEncoderBlock2D",) * blocks,
                  up_block_types=("UpDecoderBlock2D",) * blocks, **config).save_pretrained(folder)
    return load_diffusers_kl(folder)


def run(name: str, config: dict, channels: int, tiles: int, held_out: int) -> None:
    from explorer.analysis.teacher import psnr
    from explorer.preview.linear import fit_linear_preview, photo_crops

    with tempfile.TemporaryDirectory() as tmp:
        model = build(Path(tmp) / "vae", config, channels)
        start = time.perf_counter()
        preview = fit_linear_preview(model, tiles=tiles)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            crops = photo_crops(held_out, tuple(model.config.input_shape), torch.Generator().manual_seed(99))
            code = model.encode_code(crops)
            full = model.decode_code(code)
        shown = F.interpolate(preview.apply(code), scale_factor=preview.factor, mode="nearest")
        cells = F.avg_pool2d(full, preview.factor)
        side = model.config.input_shape[1]
        print(f"{name:6} {channels:4} {side:5} {tiles:5} {seconds:7.1f} {preview.solve_seconds:7.3f} {psnr(full, shown):11.1f} "
              f"{psnr(cells, preview.apply(code)):11.1f} {preview.fit_psnr:8.1f}  "
              f"{'ok' if preview.solve_seconds <= TARGET_S and seconds <= 180 else 'OVER'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_smoke_option(ap)
    ap.add_argument("--sd", action="store_true", help="also the SD 1.x config (84M parameters) at 256 px")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args()
    announce_smoke(args, configs="one tiny 4-channel config", tiles=8)
    torch.set_num_threads(args.threads)
    print(f"{'config':6} {'C':>4} {'px':>5} {'tiles':>5} {'job s':>7} {'solve s':>7} {'PSNR full':>11} {'PSNR cells':>11} {'fit PSNR':>8}")
    if args.smoke:
        work = time.perf_counter()
        run("tiny", TINY, 4, tiles=8, held_out=2)
        now = time.perf_counter()
        print(f"smoke: {now - work:.1f} s of work after {work - _STARTED:.1f} s of imports")
        return
    for channels in (4, 16, 64):
        run("small", SMALL, channels, tiles=64, held_out=4)
    if args.sd:
        run("sd", SD, 4, tiles=64, held_out=2)


if __name__ == "__main__":
    main()
