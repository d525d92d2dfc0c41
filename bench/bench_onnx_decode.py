"""Per-frame decode time (batch 1) of shipped models: onnxruntime (Python, CPU, one thread) against torch
`decode_code`, median and p95 over N calls after warm-up, with the size of each model's ONNX decoder and
encoder. The page will run the same files in onnxruntime-web (wasm, one thread); this is the native baseline.

    .venv/bin/python -m bench.bench_onnx_decode pretrained/* --calls 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.smoke import add_smoke_option, apply_smoke
from explorer.checkpoint import from_pretrained
from explorer.onnx.export import EXPORTERS, OnnxExportError, check_file, export_decoder, export_encoder


def timings(fn, calls: int, warmup: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of `calls` calls of fn after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), float(np.percentile(times, 95))


def kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", help="checkpoint folders (pretrained/*; --smoke: conv-mnist5k)")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads for the torch column (default 1, as ORT)")
    ap.add_argument("--exporters", nargs="+", choices=EXPORTERS, default=list(EXPORTERS),
                    help="exporters tried in order (default: the library's order)")
    add_smoke_option(ap)
    # torchscript: the dynamo exporter takes 3 s of CPU for conv-mnist5k's decoder, the TorchScript one 0.8 s
    a = apply_smoke(ap.parse_args(), calls=3, warmup=1, exporters=["torchscript"])
    if a.smoke and not a.folders:
        a.folders = ["pretrained/conv-mnist5k"]
    if not a.folders:
        ap.error("give at least one checkpoint folder (e.g. pretrained/*)")
    torch.set_num_threads(a.torch_threads)
    print(f"torch {torch.__version__} ({a.torch_threads} thread(s)), onnxruntime one intra-op thread; "
          f"batch 1, {a.calls} calls after {a.warmup} warm-up; times in ms")
    header = f"{'model':<16} {'family':<6} {'D':>5} {'exporter':<8} {'ort med':>8} {'ort p95':>8} {'torch med':>9} {'torch p95':>9} {'decoder':>10} {'encoder':>10}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for folder in map(Path, a.folders):
            model = from_pretrained(folder)
            d = int(np.prod(model.latent_shape))
            dec_path, enc_path = Path(tmp) / f"{folder.name}-decoder.onnx", Path(tmp) / f"{folder.name}-encoder.onnx"
            try:
                dec = export_decoder(model, dec_path, exporters=tuple(a.exporters))
            except OnnxExportError as exc:
                print(f"{folder.name:<16} {model.family:<6} {d:>5} decoder export failed: {exc}")
                continue
            try:  # the encoder's size only; --smoke leaves it out (an export takes seconds)
                enc_size = "skipped" if a.smoke else kib(export_encoder(model, enc_path, exporters=tuple(a.exporters)).size_bytes)
            except OnnxExportError:
                enc_size = "failed"
            session = check_file(dec_path)
            code = torch.randn(1, d, generator=torch.Generator().manual_seed(0))
            feed = {"code": code.numpy()}
            ort_med, ort_p95 = timings(lambda: session.run(["image"], feed), a.calls, a.warmup)
            shaped = code.view(1, *model.latent_shape)

            def torch_decode():
                with torch.inference_mode():
                    model.decode_code(shaped)

            torch_med, torch_p95 = timings(torch_decode, a.calls, a.warmup)
            print(f"{folder.name:<16} {model.family:<6} {d:>5} {dec.exporter:<8} {ort_med:>8.3f} {ort_p95:>8.3f} "
                  f"{torch_med:>9.3f} {torch_p95:>9.3f} {kib(dec.size_bytes):>10} {enc_size:>10}")


if __name__ == "__main__":
    main()
