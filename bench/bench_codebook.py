"""Data-set-level code usage at scale: N `shapes` items rendered here, encoded to code indices by a shipped discrete
model, and counted (one np.bincount); the histogram checked against one counted from the model's ONNX index encoder
(explorer.onnx.discrete), and the perplexity against exp(scipy.stats.entropy(usage)).

    .venv/bin/python -m bench.bench_codebook pretrained/fsq-shapes --items 60000 --threads 1

Targets: render + encode + count <= 60 s, counting alone <= 1 s, for 60,000 items.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
import scipy.stats
import torch

from bench.cpu_options import add_cpu_options, apply_cpu_options
from bench.smoke import add_smoke_option, apply_smoke

from explorer.analysis.codebook import count_codes, usage_stats
from explorer.checkpoint import from_pretrained
from explorer.data.shapes import draw_shape_parameters, render_shapes
from explorer.models.foreign import load_foreign
from explorer.onnx.discrete import export_discrete_pair


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", default="pretrained/fsq-shapes")
    ap.add_argument("--items", type=int, default=60_000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1, help="seed of the rendered items (the shipped split used seed 0)")
    ap.add_argument("--no-onnx", action="store_true", help="skip the ONNX encoder's histogram")
    add_cpu_options(ap)
    add_smoke_option(ap)
    a = apply_smoke(ap.parse_args(), items=500, batch_size=250)
    apply_cpu_options(a)
    model = from_pretrained(a.checkpoint, device="cpu").eval()
    (level,) = model.code_levels()

    t0, cpu0 = time.perf_counter(), time.process_time()
    params = draw_shape_parameters(a.items, a.seed)
    indices = np.empty((a.items, *level.grid), np.int16)
    render_s = 0.0
    with torch.inference_mode():
        for start in range(0, a.items, a.batch_size):
            r0 = time.perf_counter()
            images = torch.from_numpy(render_shapes(params, slice(start, start + a.batch_size))).float().div_(255.0)
            render_s += time.perf_counter() - r0
            indices[start:start + len(images)] = model.encode_indices(images)[0].numpy()
    c0 = time.perf_counter()
    counts = count_codes(indices, level.codebook_size)
    count_s = time.perf_counter() - c0
    total_s, total_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stats = usage_stats(indices, level.codebook_size)
    assert math.isclose(stats.perplexity, math.exp(scipy.stats.entropy(counts)), rel_tol=1e-12)

    print(f"{a.checkpoint}: {a.items:,} shapes items (seed {a.seed}), {level.grid[0]}x{level.grid[1]} grid, "
          f"K = {level.codebook_size}, threads={torch.get_num_threads()}")
    print(f"render {render_s:.2f} s + encode {total_s - render_s - count_s:.2f} s + count {count_s * 1000:.1f} ms = "
          f"{total_s:.2f} s wall, {total_cpu:.2f} s of CPU time (targets: total <= 60 s, counting <= 1 s; on a busy "
          "machine the CPU time is what a quiet one would take)")
    print(f"codes used {stats.used} of {level.codebook_size} ({100 * stats.share_in_use:.1f}%), dead {len(stats.dead_codes)}, "
          f"{stats.label()} (perplexity / K {stats.perplexity / level.codebook_size:.3f})")
    if a.no_onnx:
        return
    with tempfile.TemporaryDirectory() as folder:
        pair = load_foreign(export_discrete_pair(model, folder))
        o0 = time.perf_counter()
        onnx_indices = np.concatenate([
            pair.encode_indices(torch.from_numpy(render_shapes(params, slice(s, s + a.batch_size))).float().div_(255.0))[0]
            .numpy() for s in range(0, a.items, a.batch_size)])
        onnx_s = time.perf_counter() - o0
    onnx_counts = count_codes(onnx_indices, level.codebook_size)
    differing = int((onnx_indices != indices).sum())
    why = (": near-ties of the nearest-code search: the two runtimes' float32 codes before quantisation differ in their "
           "last bits, which flips ties in float32 whatever the formula; in float64 they agree "
           "(references/vq_near_ties.py)")
    print(f"ONNX encoder ({onnx_s:.1f} s): histogram equal to torch's: {np.array_equal(onnx_counts, counts)} "
          f"({differing} of {indices.size:,} cells differ{why if differing else ''})")


if __name__ == "__main__":
    main()
