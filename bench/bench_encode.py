"""Encoding throughput of a shipped model over its test split: warm-up, then the median of N timed passes.

    .venv/bin/python -m bench.bench_encode pretrained/conv-mnist5k --passes 20 --batch-size 500
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.cpu_options import add_cpu_options, apply_cpu_options
from bench.smoke import add_smoke_option, apply_smoke

from explorer.checkpoint import from_pretrained, read_config
from explorer.data import load_dataset, stack_images


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", default="pretrained/conv-mnist5k")
    ap.add_argument("--passes", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--device", default="cpu")
    add_cpu_options(ap)
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(), passes=1, batch_size=100)
    apply_cpu_options(a)
    model = from_pretrained(a.checkpoint, device=a.device)
    meta = read_config(a.checkpoint)["dataset"]
    data = load_dataset(meta["name"], **meta.get("options", {}))
    x, _ = stack_images(data.test)
    x = x.to(model.device)
    batches = list(x.split(a.batch_size))

    def one_pass() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            for b in batches:
                model.encode(b).mean
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in range(0 if a.smoke else 3):
        one_pass()
    times = [one_pass() for _ in range(a.passes)]
    med = statistics.median(times)
    print(f"{a.checkpoint}: {len(x)} test images, batch {a.batch_size}, {a.passes} passes, threads={torch.get_num_threads()}, device={model.device}")
    print(f"median pass {med * 1000:.1f} ms -> {len(x) / med:,.0f} images/s (target >= 10,000)")


if __name__ == "__main__":
    main()
