"""The CPU options every training / inference benchmark takes: thread count, flushing of denormal floats, and
whether freed memory stays in the heap (as train.py keeps it on the CPU). The benchmarks run as modules from the
checkout's top folder (`python -m bench.NAME`) and import it as `bench.cpu_options`."""

from __future__ import annotations

import argparse

import torch

from explorer.denormals import flush_denormals
from explorer.heap import retain_freed_memory


def add_cpu_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--flush-denormal", action="store_true",
                    help="flush denormal floats to zero, as train.py, vae-evaluate and the app do (explorer/denormals.py)")
    ap.add_argument("--malloc-default", action="store_true",
                    help="leave glibc's malloc as it is (default: keep freed memory in the heap, as train.py does)")


def apply_cpu_options(args: argparse.Namespace) -> None:
    if args.flush_denormal:
        flush_denormals()  # first, so that torch's worker threads inherit it
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.malloc_default:
        retain_freed_memory()
