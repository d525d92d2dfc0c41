"""bfloat16 on this CPU for a diffusers AutoencoderKL: encode and decode in float32, with the weights cast to bfloat16
(`load_foreign(folder, dtype="bfloat16")`, as the app would run it) and under `torch.autocast("cpu",
dtype=torch.bfloat16)` (float32 weights, bfloat16 matmuls and convolutions). Per model and path: seconds (best of
--repeats, in one process), the speed-up over float32, and the PSNR of the images against float32's (decode: the
same latents decoded; encode: float32's decode of each path's latents). The verdict follows one rule: adopt
bfloat16 where its PSNR is at least 40 dB and it is faster.

    python -m bench.bench_precision [--models teacher sd] [--threads 2] [--repeats 2] [--json out.json]

Models: `teacher` is the shipped pretrained/kl-f4-photos on the held-out photographs' 64 px tiles (4 images);
`sd` the SD 1.x config (random seeded weights, 83.7M parameters) at 256 px, on the teacher's tiles resized (1 image:
a decode takes seconds). --smoke: a tiny random config at 32 px, one repetition (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.cpu_options import add_cpu_options, apply_cpu_options
from bench.smoke import add_smoke_option, apply_smoke

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "pretrained" / "kl-f4-photos"
MIN_PSNR_DB = 40.0  # the bar for adopting a lower precision
TINY = {"block_out_channels": (8, 16), "layers_per_block": 1, "norm_num_groups": 4, "latent_channels": 4,
        "scaling_factor": 0.18215, "sample_size": 32}


def best_seconds(work, repeats: int) -> tuple[float, torch.Tensor]:
    """(best wall seconds over `repeats` calls of work(), the last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = work()
        best = min(best, time.perf_counter() - start)
    return best, out


def images_for(side: int, count: int) -> torch.Tensor:
    """`count` held-out photograph tiles (count, 3, side, side) in [0, 1], resized when side is not the tile's."""
    from explorer.data import load_dataset

    test = load_dataset("photos").test
    tiles = torch.stack([test[i][0] for i in range(count)])
    return tiles if tiles.shape[-1] == side else F.interpolate(tiles, size=(side, side), mode="bilinear",
                                                                 antialias=True).clamp(0, 1)


@torch.no_grad()
def measure(name: str, folder: Path, images: torch.Tensor, repeats: int) -> list[dict]:
    """Rows (path, part, seconds, speed-up, PSNR dB, adopt) of float32, bfloat16 weights and bfloat16 autocast."""
    from explorer.analysis.teacher import psnr
    from explorer.models.foreign import load_foreign

    full = load_foreign(folder, image_size=images.shape[-1])
    cast = load_foreign(folder, image_size=images.shape[-1], dtype="bfloat16")
    paths = {"float32": (full, nullcontext), "bf16 weights": (cast, nullcontext),
             "bf16 autocast": (full, lambda: torch.autocast("cpu", dtype=torch.bfloat16))}
    rows = []
    for path, (model, context) in paths.items():
        def encode(model=model, context=context):
            with context():
                return model.encode(images).mean.float()

        def decode(latents, model=model, context=context):
            with context():
                return model.decode(latents).mean.float()

        enc_s, latents = best_seconds(encode, repeats)
        if path == "float32":  # the first path: its latents and images are every path's reference
            reference_latents = latents
        dec_s, decoded = best_seconds(lambda: decode(reference_latents), repeats)
        if path == "float32":
            reference_images = decoded
        # float32's decode of this path's latents (for float32 itself, the decode just timed: not a second one)
        round_trip = decoded if path == "float32" else full.decode(latents).mean.float()
        for part, seconds, db in (("encode", enc_s, psnr(reference_images, round_trip)),
                                  ("decode", dec_s, psnr(reference_images, decoded))):
            base = next((r["seconds"] for r in rows if r["path"] == "float32" and r["part"] == part), seconds)
            row = {"model": name, "path": path, "part": part, "side": int(images.shape[-1]), "batch": len(images),
                   "seconds": round(seconds, 3), "speedup": round(base / seconds, 3),
                   "psnr_db": None if db == float("inf") else round(db, 1)}
            row["adopt"] = path != "float32" and row["speedup"] > 1.0 and (db >= MIN_PSNR_DB)
            rows.append(row)
            shown = "identical" if row["psnr_db"] is None else f"{row['psnr_db']:.1f} dB"
            print(f"{name:8} {path:14} {part:6} {row['side']:4} px x{row['batch']}  {seconds:8.3f} s  "
                  f"x{row['speedup']:.2f}  {shown:>10}  {'adopt' if row['adopt'] else '-'}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["teacher", "sd"], choices=["teacher", "sd"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    add_cpu_options(ap)
    add_smoke_option(ap)
    a = ap.parse_args()
    apply_smoke(a, models=["tiny"], repeats=1)
    apply_cpu_options(a)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; bf16 CPU support: "
          f"{torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()}", flush=True)
    from tests.support.foreign_models import SD1_CONFIG, make_kl

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models:
            if name == "teacher":
                rows += measure(name, TEACHER, images_for(64, 4), a.repeats)
            else:
                config = TINY if name == "tiny" else SD1_CONFIG
                make_kl(Path(tmp) / name, seed=0, **config)
                rows += measure(name, Path(tmp) / name, images_for(config["sample_size"], 1), a.repeats)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
