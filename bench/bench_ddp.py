"""DDP throughput: train.py under torchrun on N CPU processes (gloo) against one process, at the same global batch.

Each run trains the same conv VAE on mnist5k for --epochs epochs, one torch thread per process; the figure is
the trainer's inner-loop time per epoch (train_state.pt's `seconds`, without the per-epoch evaluation and
checkpoint that rank 0 alone does), as images per second in all and per process. Run it on a quiet machine:
processes that share cores measure the cores, not the scaling.

    python -m bench.bench_ddp                      # 1 process against 2
    python -m bench.bench_ddp --processes 1,2,4 --batch-size 256
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.smoke import add_smoke_option, apply_smoke


def train_run(processes: int, out: Path, args: argparse.Namespace) -> tuple[list[float], int]:
    """Seconds of each epoch's training loop of one torchrun job, and its optimiser steps per epoch."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
           "train.py", "--model", "conv", "--dataset", args.dataset, "--latent-dim", "16", "--channels", "16,32",
           "--hidden-dim", "128", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--threads", "1", "--device", "cpu", "--maps", "none", "--iwae-k", "0", "--no-progress",
           "--no-tensorboard", "--out", str(out)]
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    import torch  # lazy: imported while the job starts (torchrun and its processes import torch too, 1.4 s each)

    _, stderr = job.communicate()
    if job.returncode != 0:
        raise SystemExit(f"torchrun with {processes} process(es) failed:\n{stderr[-3000:]}")
    state = torch.load(out / "checkpoint" / "train_state.pt", map_location="cpu", weights_only=True)
    history = state["history"]
    return [float(r["seconds"]) for r in history], int(history[0]["step"])  # step: the steps taken so far


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", default="1,2", help="world sizes to compare (comma-separated)")
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is dropped as warm-up when >1")
    ap.add_argument("--batch-size", type=int, default=128, help="the global batch of every run")
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(), processes="1", dataset="mnist5k", epochs=1)
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(p) for p in a.processes.split(",")):
            seconds, steps = train_run(n, Path(tmp) / f"world{n}", a)
            # per epoch: every step is one global batch (the last partial batch is dropped), whatever the world size;
            # read from the run, so that this process need not load the data set itself
            images = steps * a.batch_size
            if base is None:
                print(f"{a.dataset}: {images} images per epoch, global batch {a.batch_size}, conv VAE, gloo, "
                      "1 thread a process")
            median = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
            total = images / median
            base = base or total / n
            print(f"{n} process(es): {total:8.1f} images/s in all, {total / n:8.1f} per process "
                  f"({total / n / base:.2f}x the first run's rate per process), epoch loop {median:.2f} s "
                  f"(epochs: {', '.join(f'{s:.2f}' for s in seconds)})", flush=True)


if __name__ == "__main__":
    main()
