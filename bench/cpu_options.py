"""The CPU options every training / inference benchmark takes: thread count and flushing of denormal floats."""

from __future__ import annotations

import argparse

import torch


def add_cpu_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--flush-denormal", action="store_true", help="flush denormal floats to zero (faster CPU math)")


def apply_cpu_options(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
