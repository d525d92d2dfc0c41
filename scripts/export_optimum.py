"""Export every shipped model (or those named) in Optimum's layout, with an fp16 decoder checked against fp32.

    python scripts/export_optimum.py OUT [pretrained/conv-mnist5k ...] [--threads 1]

Writes OUT/<model>/vae_encoder/model.onnx, vae_decoder/model.onnx and vae_decoder/model_fp16.onnx
(explorer.onnx.export.export_optimum) and prints one Markdown row per model: the largest fp16 - fp32 difference on
100 test codes (the first 100 posterior means of the model's test split in analysis.safetensors; prior draws where
it has none), in [0, 1], or what blocked a part.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from safetensors.numpy import load_file

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.onnx.export import ExportInfo, export_optimum

ROOT = Path(__file__).resolve().parents[1]


def _check_codes(folder: Path):
    analysis = folder / "analysis.safetensors"
    if analysis.is_file():
        means = load_file(str(analysis)).get("test_means")
        if means is not None and len(means) >= 100:
            return means[:100]
    return None  # export_optimum draws 100 prior codes (seed 0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    folders = args.models or sorted(p.parent for p in (ROOT / "pretrained").glob("*/config.json"))
    print("| model | encoder | decoder | fp16 decoder: max difference from fp32 on 100 test codes ([0, 1]) | seconds "
          "| command |")
    print("|---|---|---|---|---|---|")
    for folder in folders:
        start = time.perf_counter()
        model = from_pretrained(folder)
        out = export_optimum(model, args.out / folder.name, weights_digest(folder), check_codes=_check_codes(folder))
        parts = [f"{info.exporter}, {info.size_bytes / 1e6:.2f} MB" if isinstance(info, ExportInfo)
                 else f"failed: {info.message[:200]}" for info in (out.parts["encoder"], out.parts["decoder"])]
        fp16 = f"{out.fp16_max_abs_diff:.5f} ({out.fp16_max_abs_diff * 255:.2f} / 255)" if out.fp16 else out.fp16_problem
        command = f"`python scripts/export_optimum.py OUT pretrained/{folder.name}`"
        print(f"| {folder.name} | {parts[0]} | {parts[1]} | {fp16} | {time.perf_counter() - start:.0f} | {command} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
