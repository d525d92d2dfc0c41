"""The up-front peak-memory estimate (explorer.runtime.memory) against the measured peak, for random-weight
diffusers AutoencoderKL configs: the SD 1.x config at 256 and 512 px and a small config. Target: within 30%.

    .venv/bin/python -m bench.bench_memory_estimate            # SD at 256 and 512, small config
    .venv/bin/python -m bench.bench_memory_estimate --smoke    # the small config at 64 px only
    .venv/bin/python -m bench.bench_memory_estimate --tiling   # tiled decodes at 512 px

Each measurement runs in a fresh child process (1 torch thread): it builds the model, resets the kernel's
peak-RSS mark (writing 5 to /proc/self/clear_refs) and runs one encode or decode under no_grad; the measured
peak is VmHWM minus the resident size before the model was built (weights + activations), compared with the
estimate's total. glibc's mmap threshold is fixed at 64 KB in the child (MALLOC_MMAP_THRESHOLD_), so large
tensors are returned to the system when freed and the peak is that of live tensors, not of heap slack.
Linux only.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from bench.smoke import add_smoke_option, announce_smoke

ROOT = Path(__file__).resolve().parents[1]
SD = {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "latent_channels": 4,
      "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4}
SMALL = {"block_out_channels": [32, 64, 64], "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 8,
         "down_block_types": ["DownEncoderBlock2D"] * 3, "up_block_types": ["UpDecoderBlock2D"] * 3}
CONFIGS = {"sd": SD, "small": SMALL}
TOLERANCE = 0.30


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(config: str, part: str, size: int, batch: int, tile: int = 0) -> dict:
    """Runs in the child: build, reset the peak mark, call once; the measured and estimated bytes. tile > 0:
    diffusers tiling with tiles of `tile` px, and the PSNR of the tiled result against the untiled one (run
    after the measurement)."""
    import torch
    from diffusers import AutoencoderKL

    from explorer.runtime.memory import estimate_peak

    torch.set_num_threads(1)
    cfg = {**CONFIGS[config], **({"sample_size": tile} if tile else {})}
    before = _status("VmRSS:")
    torch.manual_seed(0)
    vae = AutoencoderKL(**cfg).eval()
    if tile:
        vae.enable_tiling()
    factor = 2 ** (len(cfg["block_out_channels"]) - 1)
    x = (torch.randn(batch, 3, size, size) if part == "encode"
         else torch.randn(batch, cfg["latent_channels"], size // factor, size // factor))
    run = lambda x: vae.encode(x).latent_dist.mean if part == "encode" else vae.decode(x).sample  # noqa: E731
    with torch.no_grad():  # once on the smallest input first: the imports, kernel choices and buffers that a first
        run(x[:1, :, :8, :8] if part == "encode" else x[:1, :, :1, :1])  # call makes whatever its size
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current resident size
    start = time.perf_counter()
    with torch.no_grad():
        out = run(x)
    seconds = time.perf_counter() - start
    measured = _status("VmHWM:") - before
    estimate = estimate_peak(vae, part, batch, (size, size))
    result = {"config": config, "part": part, "size": size, "batch": batch, "tile": tile, "measured": measured,
              "estimated": estimate.total_bytes, "weights": estimate.weights_bytes, "seconds": seconds}
    if tile:
        vae.disable_tiling()
        start = time.perf_counter()
        with torch.no_grad():
            plain = run(x)
        result["untiled_seconds"] = time.perf_counter() - start
        scale = 2.0 if part == "decode" else float(plain.abs().max())  # images span [-1, 1]
        mse = float(((out - plain) ** 2).mean())
        result["psnr"] = 10 * math.log10(scale**2 / mse) if mse else math.inf
    return result


def measure(config: str, part: str, size: int, batch: int = 1, tile: int = 0) -> dict:
    """One measurement in a fresh child process (see the module docstring)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    # run as a module from the checkout's root, so that the child imports this checkout's explorer
    out = subprocess.run([sys.executable, "-m", "bench.bench_memory_estimate", "--child",
                          json.dumps([config, part, size, batch, tile])],
                         capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_smoke_option(ap)
    ap.add_argument("--tiling", action="store_true",
                    help="tiled decodes at 512 px instead (small config, tiles of 128 px; SD, tiles of 256 px), with "
                         "their PSNR and time against the untiled decode")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    announce_smoke(args, configs="the small config", px=64)
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        gc.freeze()  # the teardown of torch and diffusers then skips a last collection (0.4 s of CPU, unmeasured)
        return
    if args.smoke:
        cases = [("small", "decode", 64, 1)]
    elif args.tiling:
        cases = [("small", "decode", 512, 1, 128), ("sd", "decode", 512, 1, 256)]
    else:
        cases = [("small", "decode", 256, 1), ("small", "decode", 512, 1), ("small", "encode", 512, 1),
                 ("small", "decode", 256, 4), ("sd", "encode", 256, 1), ("sd", "decode", 256, 1),
                 ("sd", "encode", 512, 1), ("sd", "decode", 512, 1)]
    started = time.perf_counter()
    worst = 0.0
    print(f"{'config':6} {'part':6} {'size':>5} {'batch':>5} {'measured MB':>12} {'estimate MB':>12} {'error':>7} {'s':>6}")
    for case in cases:
        r = measure(*case)
        error = r["estimated"] / r["measured"] - 1
        worst = max(worst, abs(error))
        tiled = (f"  tiles of {r['tile']} px: PSNR {r['psnr']:.1f} dB against untiled ({r['untiled_seconds']:.1f} s)"
                 if r["tile"] else "")
        print(f"{r['config']:6} {r['part']:6} {r['size']:5} {r['batch']:5} {r['measured'] / 2**20:12.0f} "
              f"{r['estimated'] / 2**20:12.0f} {error:+7.0%} {r['seconds']:6.1f}{tiled}", flush=True)
    print(f"worst error {worst:.0%} (target within {TOLERANCE:.0%}); {time.perf_counter() - started:.1f} s in all, "
          "each child importing torch and diffusers")
    if worst > TOLERANCE and not args.smoke:  # a smoke run checks the code path; its tiny sizes say nothing of the target
        sys.exit(1)


if __name__ == "__main__":
    main()
