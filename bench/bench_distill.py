"""Distilling a preview decoder (explorer.preview.distill): the shipped teacher's student against its teacher on full
frames of the held-out photographs, the linear tier beside it, onnxruntime's time per frame; and for the SD 1.x config
(random weights, 83.7M parameters) the time a training step takes and what an hour buys.

    .venv/bin/python -m bench.bench_distill --student pretrained/kl-f4-photos-student   # score a vae-distill student
    .venv/bin/python -m bench.bench_distill --minutes 27                               # distil the teacher now, score it
    .venv/bin/python -m bench.bench_distill --sd                                       # SD 1.x: s a step, an hour
    .venv/bin/python -m bench.bench_distill --smoke

Targets: the student at least 25 dB against the teacher within 30 minutes; its decoder fast enough for 8 frames a
second of a 4x32x32 latent in the page (onnxruntime-web wasm is slower than the native CPU figure given here).
PSNR: whole held-out photographs (chelsea, coffee, flower), encoded by the teacher, decoded by teacher and student.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from bench.smoke import add_smoke_option, announce_smoke  # noqa: E402

TEACHER = Path("pretrained/kl-f4-photos")
SD_KEYS = ("block_out_channels", "layers_per_block", "latent_channels", "scaling_factor", "norm_num_groups")


def score_student(teacher_path: Path, folder: Path, sides: tuple[int, ...], eval_max_side: int = 0) -> dict:
    """PSNR against the teacher (student, encoder, linear tier) on full frames, and onnxruntime ms per frame."""
    from diffusers import AutoencoderTiny

    from explorer.cache import weights_digest
    from explorer.data import load_dataset
    from explorer.preview.distill.job import teacher_model
    from explorer.preview.distill.scores import (evaluation_frames, frame_refs, linear_scores, onnx_frame_ms,
                                                 student_scores)
    from explorer.preview.linear import cached_linear_preview

    teacher = teacher_model(teacher_path)
    student = AutoencoderTiny.from_pretrained(str(folder), local_files_only=True).eval()
    factor = teacher.config.input_shape[1] // teacher.latent_shape[1]
    refs = frame_refs(teacher, evaluation_frames(load_dataset("photos", image_size=64, n_items=1), factor, eval_max_side))
    scores = student_scores(teacher, student, refs)
    start = time.perf_counter()
    scores.update(linear_scores(cached_linear_preview(teacher, weights_digest(teacher_path)), refs))
    scores["linear_fit_or_read_s"] = time.perf_counter() - start
    scores["onnx_ms_per_frame"] = onnx_frame_ms(folder, factor, sides)
    return scores


def report(name: str, info: dict, scores: dict) -> None:
    per = ", ".join(f"{k} {v:.2f}" for k, v in scores["decoder_psnr_db"].items())
    print(f"{name}: {info.get('steps', '?')} steps, {info.get('train_seconds', 0) / 60:.1f} min training, "
          f"{info.get('session_seconds', 0) / 60:.1f} min in all")
    print(f"  student decoder vs teacher, full frames: {scores['mean_decoder_psnr_db']:.2f} dB ({per})")
    print(f"  teacher decoder on the student encoder's code: {scores['mean_encoder_psnr_db']:.2f} dB")
    print(f"  linear tier vs teacher, full frames:       {scores['mean_linear_psnr_db']:.2f} dB")
    for shape, ms in scores["onnx_ms_per_frame"].items():
        print(f"  onnxruntime, 1 CPU thread, {shape}: {ms:.1f} ms a frame ({1000 / ms:.0f} frames/s)")
    verdict = "ok" if scores["mean_decoder_psnr_db"] >= 25 else "BELOW 25 dB"
    print(f"  target >= 25 dB: {verdict}", flush=True)


def teacher_run(args: argparse.Namespace) -> None:
    """Score the student in --student, or distil the shipped teacher for --minutes into a temporary folder first."""
    from explorer.preview.distill.job import distill_teacher
    from explorer.preview.distill.trainer import DistillConfig

    if args.student:
        folder = Path(args.student)
        info = json.loads((folder / "student.json").read_text())
    else:
        tmp = Path(tempfile.mkdtemp(prefix="distill-"))
        result = distill_teacher(TEACHER, "photos", out=tmp / "student", config=DistillConfig(minutes=args.minutes),
                                 time_onnx=False, command=f"python -m bench.bench_distill --minutes {args.minutes:g}")
        folder, info = result.files.folder, result.files.info
    report(str(folder), info, score_student(TEACHER, folder, (32, 64)))


def sd_run(args: argparse.Namespace, frame_cells: int, crop_cells: int, batch: int, steps: int, sides: tuple[int, ...]) -> None:
    """Time a training step for the SD 1.x config (random weights): the teacher's encode + decode of a frame, and the
    student's step on a batch of crops; a step of the default recipe is `refresh` frames and one student step."""
    from explorer.models.foreign.presets import CONFIGS
    from explorer.preview.distill.crops import cut_crops, decoder_losses, encoder_losses, teacher_batch
    from explorer.preview.distill.job import teacher_model, teacher_spec
    from explorer.preview.distill.scores import onnx_frame_ms
    from explorer.preview.distill.student import build_student, parameter_count
    from explorer.preview.distill.trainer import DistillConfig, draw_image, pick_crops
    from explorer.data import load_dataset
    from tests.support.foreign_models import make_kl

    config = json.loads((CONFIGS / "sd1" / "config.json").read_text())
    recipe = replace(DistillConfig(), frame_cells=frame_cells, crop_cells=crop_cells, batch_size=batch, bank_size=1,
                     refresh=1)
    with tempfile.TemporaryDirectory() as tmp:
        make_kl(Path(tmp) / "sd", **{k: config[k] for k in SD_KEYS}, sample_size=256)
        teacher = teacher_model(Path(tmp) / "sd")
        spec = teacher_spec(teacher)
        items = load_dataset("photos", image_size=frame_cells * spec.factor, n_items=64).train
        image = draw_image(items, 0, frame_cells * spec.factor, 0)[None]
        start = time.perf_counter()
        frames = teacher_batch(teacher, image)
        frame_s = time.perf_counter() - start
        student = build_student(spec)
        optimizer = torch.optim.Adam(student.parameters(), lr=recipe.lr)
        times = []
        for step in range(steps):
            start = time.perf_counter()
            crops = cut_crops(frames, pick_crops(step, recipe, 1), crop_cells, spec.factor, recipe.border)
            loss = decoder_losses(student, crops, spec.factor, recipe.edge_weight)["loss"].mean()
            if step % recipe.encoder_every == 0:
                loss = loss + encoder_losses(student, crops)["latent_mse"].mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
        student_s = min(times)
        step_s = DistillConfig().refresh * frame_s + student_s
        with tempfile.TemporaryDirectory() as sfolder:
            student.save_pretrained(sfolder, safe_serialization=True)
            ort_ms = onnx_frame_ms(sfolder, spec.factor, sides)
    print(f"SD 1.x config, random weights ({sum(p.numel() for p in teacher.vae.parameters()) / 1e6:.1f}M parameters), "
          f"student {parameter_count(student.decoder):,} + {parameter_count(student.encoder):,} parameters")
    print(f"  teacher encode + decode of a {frame_cells * spec.factor} px frame: {frame_s:.1f} s")
    print(f"  student step, {batch} crops of {crop_cells * spec.factor} px: {student_s:.1f} s (best of {steps})")
    print(f"  a step of the recipe ({DistillConfig().refresh} new frames + the student step): {step_s:.1f} s; an hour buys "
          f"{3600 / step_s:.0f} steps ({3600 / step_s * batch:.0f} crops, {3600 / step_s * DistillConfig().refresh:.0f} "
          "teacher frames)")
    for shape, ms in ort_ms.items():
        print(f"  onnxruntime, 1 CPU thread, {shape}: {ms:.1f} ms a frame ({1000 / ms:.0f} frames/s)", flush=True)


def smoke() -> None:
    """The whole path on the tiny teacher of tests/support: 2 steps, scored, timed at a 4x4x4 latent."""
    from explorer.preview.distill.job import distill_teacher
    from tests.support.distill import TINY_RECIPE, TINY_WIDTH, make_teacher

    with tempfile.TemporaryDirectory() as tmp:
        teacher = make_teacher(Path(tmp) / "kl")
        result = distill_teacher(teacher, "photos", out=Path(tmp) / "student", config=TINY_RECIPE, width=TINY_WIDTH,
                                 eval_max_side=32, time_onnx=False, score_linear=False, cache_dir=Path(tmp) / "cache")
        scores = result.scores
        from explorer.preview.distill.scores import onnx_frame_ms

        scores["mean_linear_psnr_db"] = float("nan")
        scores["onnx_ms_per_frame"] = onnx_frame_ms(result.files.folder, 2, (4,))
        report("tiny", result.files.info, scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_smoke_option(ap)
    ap.add_argument("--student", default=None, help="score this vae-distill folder (of pretrained/kl-f4-photos)")
    ap.add_argument("--minutes", type=float, default=27.0, help="distil for this long when no --student is given")
    ap.add_argument("--sd", action="store_true", help="time the SD 1.x config's steps instead")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args()
    announce_smoke(args, teacher="tests/support tiny f2 AutoencoderKL", steps=2, onnx_latent="4x4x4")
    torch.set_num_threads(args.threads)
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    if args.smoke:
        work = time.perf_counter()
        smoke()
        print(f"smoke: {time.perf_counter() - work:.1f} s of work after {work - _STARTED:.1f} s of imports")
        return
    if args.sd:
        sd_run(args, frame_cells=DEFAULT_SD["frame_cells"], crop_cells=DEFAULT_SD["crop_cells"], batch=8, steps=2,
               sides=(32, 64))
    else:
        teacher_run(args)


# at f8: 256 px frames (the largest the photos data set cuts) and 192 px crops
DEFAULT_SD = {"frame_cells": 32, "crop_cells": 24}

if __name__ == "__main__":
    main()
