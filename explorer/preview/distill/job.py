"""Distil a teacher, end to end: the student of a diffusers AutoencoderKL folder (or single file), trained on a data
set's crops, scored on full frames, saved with its ONNX files and card, and kept per teacher weights digest.

    files = distill_teacher("pretrained/kl-f4-photos", "photos", minutes=30)    # the cache entry, or trains it
    files = find_student("pretrained/kl-f4-photos")                            # None until one exists (no training)
    files.decoder_onnx                                                          # what the page decodes with

`distill_teacher` is a plain function for a worker thread: progress through `on_progress`, cancellation through a
`CancelToken` (it checkpoints, then raises `Cancelled`; `resume=True` goes on from there).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

import explorer
from explorer.cache import weights_digest
from explorer.card import hub_card, student_card_data
from explorer.checkpoint import from_pretrained
from explorer.data import available_datasets, load_dataset, loader_options
from explorer.data.base import DataSplit
from explorer.models.base import VAE
from explorer.models.foreign.diffusers_kl import DiffusersKLVAE
from explorer.preview.distill.folder import (STUDENT_EXPORTERS, StudentFiles, cache_folder, read_student,
                                             write_student)
from explorer.preview.distill.scores import (FrameRefs, evaluation_frames, frame_refs, linear_scores, onnx_frame_ms,
                                             student_scores)
from explorer.preview.distill.student import StudentSpec, parameter_count
from explorer.preview.distill.trainer import DistillConfig, train_student
from explorer.preview.linear import cached_linear_preview
from explorer.runtime.progress import CancelToken, Progress

MAX_ITEMS = 1 << 20  # training crops a data set that draws them by index may offer (photos: drawn on demand)


@dataclass(frozen=True)
class DistillResult:
    """What `distill_teacher` gives back."""

    files: StudentFiles
    status: str  # "cached" (found for these teacher weights, not trained) or "trained"

    @property
    def scores(self) -> dict[str, Any]:
        return self.files.info.get("scores", {})


def teacher_model(path: str | Path, device: str | torch.device = "cpu") -> VAE:
    """The teacher as an explorer VAE; ValueError unless it is a diffusers AutoencoderKL (folder or single file),
    whose fully convolutional decoder takes latent crops of any size."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MODEL {path} does not exist: give a diffusers AutoencoderKL folder (config.json + "
                                "diffusion_pytorch_model.safetensors) or an original-layout .safetensors VAE file")
    model = from_pretrained(path, device)
    if not isinstance(model, DiffusersKLVAE):
        raise ValueError(f"MODEL {path} is a {model.family!r} model; vae-distill distils a diffusers AutoencoderKL "
                         "(folder or single .safetensors file), whose decoder takes latent crops of any size")
    return model.eval()


def scoring_pair(student_folder: str | Path, teacher_path: str | Path) -> tuple[VAE, torch.nn.Module, int]:
    """(teacher, student, factor): a teacher (teacher_model) and a student folder (`vae-distill --out`) loaded on the
    CPU in evaluation mode, with the teacher's pixels per latent cell along a side; for studies that score a student."""
    from diffusers import AutoencoderTiny

    teacher = teacher_model(teacher_path)
    factor = int(teacher.config.input_shape[1] // teacher.latent_shape[1])
    student = AutoencoderTiny.from_pretrained(str(student_folder), local_files_only=True).eval()
    return teacher, student, factor


def scoring_pair_parser(description: str) -> argparse.ArgumentParser:
    """A command line's parser for a study that scores a student: the student folder, and `--teacher` (default the
    shipped kl-f4-photos); scoring_study adds the study's own options."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("student", help="a student folder (vae-distill's --out)")
    ap.add_argument("--teacher", default="pretrained/kl-f4-photos", help="its teacher (default: %(default)s)")
    return ap


def scoring_study(description: str, argv: list[str] | None,
                  add_options: Callable[[argparse.ArgumentParser], object]) -> tuple[argparse.Namespace, VAE,
                                                                                    torch.nn.Module, int]:
    """The start of a study in references/ that scores a student: its command line (scoring_pair_parser, then the
    study's own options from `add_options`) parsed from `argv`, one torch thread (the figures a table prints do not
    then depend on the machine's cores), and the pair loaded; (arguments, teacher, student, factor)."""
    ap = scoring_pair_parser(description)
    add_options(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    return (args, *scoring_pair(args.student, args.teacher))


def teacher_spec(teacher: VAE, width: int = 32, decoder_factor: int = 0) -> StudentSpec:
    """The student's spec for a teacher: its latent and image channels and its downsampling factor (decoder_factor:
    0 for a decoder at the teacher's size, or half the factor for a half-size preview decoder)."""
    channels, h, _ = teacher.latent_shape
    factor = int(teacher.config.input_shape[1] // h)
    try:
        return StudentSpec(latent_channels=int(channels), image_channels=int(teacher.config.input_shape[0]),
                           factor=factor, width=width, decoder_factor=decoder_factor)
    except ValueError as exc:
        if decoder_factor and "decoder factor" in str(exc):
            raise ValueError(f"--decoder-factor {decoder_factor}: the teacher is f{factor}; give {factor} (a decoder "
                             f"at its size) or {factor // 2} (a half-size preview decoder)") from None
        raise


def training_data(name: str, crop_px: int, data_root: str | None = None) -> DataSplit:
    """A data set by name whose training images are at least crop_px a side: loaded at crop_px where its loader takes
    an image size (and with MAX_ITEMS crops where it draws them on demand). ValueError naming --data otherwise."""
    if name not in available_datasets():
        raise ValueError(f"--data {name}: unknown data set; known: {', '.join(available_datasets())}")
    takes = loader_options(name)
    options: dict[str, Any] = {}
    if "image_size" in takes:
        options["image_size"] = crop_px
    if "n_items" in takes:
        options["n_items"] = MAX_ITEMS
    try:
        return load_dataset(name, root=data_root, **options)
    except (ValueError, FileNotFoundError, OSError) as exc:
        hint = (f" (training frames are --frame-cells times the teacher's factor, {crop_px} px here: lower "
                "--frame-cells and --crop-cells)" if "image_size" in options else "")
        raise ValueError(f"--data {name}: {exc}{hint}") from None


def check_data(data: DataSplit, teacher: VAE, crop_px: int) -> None:
    channels, height, width = data.image_shape
    if channels != teacher.config.input_shape[0]:
        raise ValueError(f"--data {data.name}: its images have {channels} channel(s), the teacher's "
                         f"{teacher.config.input_shape[0]}")
    if min(height, width) < crop_px:
        raise ValueError(f"--data {data.name}: its images are {height}x{width}, smaller than a training frame of "
                         f"{crop_px} px (--frame-cells times the teacher's factor); lower --frame-cells")


def render_card(name: str, info: dict[str, Any]) -> str:
    """The card README.md of a student folder: a Hugging Face model card (explorer.card) whose model-index holds its
    PSNR scores against the teacher, over the Markdown of `card_markdown`."""
    return hub_card(student_card_data(name, info), card_markdown(name, info))


def card_markdown(name: str, info: dict[str, Any]) -> str:
    """The Markdown of a student's card: what it is, how it was trained, its scores."""
    spec, config, scores = info["spec"], info["config"], info["scores"]
    per = ", ".join(f"{k} {v:.2f}" for k, v in scores["decoder_psnr_db"].items())
    linear = scores.get("mean_linear_psnr_db")
    linear_row = (f"| linear tier (explorer.preview.linear), nearest-upsampled | {linear:.2f} | "
                  + ", ".join(f"{k} {v:.2f}" for k, v in scores["linear_psnr_db"].items()) + " |\n") if linear else ""
    ort = ", ".join(f"{k}: {v:.1f} ms" for k, v in info.get("onnx_ms_per_frame", {}).items()) or "not measured"
    factor, decoder_factor = spec["factor"], spec.get("decoder_factor") or spec["factor"]
    half = (f"\n\nIts decoder is a half-size preview decoder: it writes {decoder_factor} pixels per latent cell where the "
            f"teacher writes {factor}, and is scored against the teacher's decode pooled {factor // decoder_factor}x"
            f"{factor // decoder_factor}. The pages upscale its frames while a slider moves; the explorer does not load "
            "it as a model.") if decoder_factor != factor else ""
    tile = info.get("teacher_tile_px") or 0
    tiled = (f"\nThe teacher as the explorer loads it: it encodes and decodes a frame over {tile} px in {tile} px tiles, "
             "the crops it was trained on (diffusers' tiling: overlapping by a quarter, blended), and the student "
             "is trained and scored against that decode.\n") if tile else ""
    return f"""# {name}

A distilled preview decoder (and encoder) for the teacher `{info['teacher']}` (weights digest
`{info['teacher_digest'][:16]}`): a diffusers `AutoencoderTiny` (TAESD's architecture), {info['parameters']['decoder']:,}
decoder and {info['parameters']['encoder']:,} encoder parameters (width {spec['width']}, blocks per stage: encoder
{spec['encoder_blocks']}, decoder {spec['decoder_blocks']}). It reads and writes the teacher's latent as its pipeline
scales it, `(z - shift) * scale`.{half}

```python
from diffusers import AutoencoderTiny
student = AutoencoderTiny.from_pretrained("{name}", local_files_only=True)
image = (student.decode(code).sample + 1) / 2        # code: the teacher's scaled latent
```

`onnx/decoder.onnx`: flat code (B, {'*'.join(map(str, info['latent_shape']))}) -> image in [0, 1], for the page
(onnxruntime on one CPU thread: {ort}).

## PSNR against the teacher, full frames of held-out photographs
{tiled}
| decoder | mean PSNR (dB) | per frame (dB) |
|---|---|---|
| this student, on the teacher's code | **{scores['mean_decoder_psnr_db']:.2f}** | {per} |
{linear_row}| teacher's decoder on this student's code (the encoder) | {scores['mean_encoder_psnr_db']:.2f} | |

## How it was made

```
{info['command']}
```

{info['steps']:,} steps of {config['batch_size']} crops of {config['crop_cells']} latent cells, a border of
{config['border']} cells dropped from each crop's targets, in {info['train_seconds'] / 60:.1f} minutes on
{info['device']} ({info['threads']} thread(s)). Losses: MSE + {config['edge_weight']:g} x image-gradient L1 (decoder),
MSE to the teacher's scaled latent (encoder). Adam at {config['lr']:g}, warm-up and cosine to 5%.
"""


def distill_teacher(teacher_path: str | Path, data: str = "photos", out: str | Path | None = None,
                    config: DistillConfig | None = None, width: int = 32, decoder_factor: int = 0, resume: bool = False,
                    data_root: str | None = None, cache_dir: str | Path | None = None,
                    device: str | torch.device = "cpu", eval_max_side: int = 0, time_onnx: bool = True,
                    score_linear: bool = True, exporters: tuple[str, ...] = STUDENT_EXPORTERS,
                    command: str = "", on_progress: Callable[[Progress], None] | None = None,
                    token: CancelToken | None = None, log: Callable[[str], None] | None = None) -> DistillResult:
    """The student of the teacher at teacher_path: read from `out` (default: the cache entry of the teacher's
    weights digest) when a finished one for these weights is there and resume is False, else trained (config, width)
    (decoder_factor: `teacher_spec`'s) on `data` crops, scored on full frames (eval_max_side: centre-crop them, 0 whole; score_linear: the linear tier
    beside it), timed in onnxruntime (time_onnx) and written with its ONNX files (exporters: explorer.onnx.export's).

    Raises ValueError / FileNotFoundError for bad input (naming the option), `Cancelled` when token is cancelled
    (after a checkpoint: resume=True goes on)."""
    config = config or DistillConfig()
    teacher_path = Path(teacher_path)
    teacher = teacher_model(teacher_path, device)
    digest = weights_digest(teacher_path)
    out = Path(out) if out is not None else cache_folder(digest, cache_dir)
    spec = teacher_spec(teacher, width, decoder_factor)
    if not resume:
        found = read_student(out, digest)
        if found is not None:
            held = StudentSpec.from_dict(found.info["spec"])
            if held != spec:
                raise ValueError(f"{out} holds a finished student of another size (width {held.width}, decoder "
                                 f"factor {held.decoder_factor}; asked: width {spec.width}, decoder factor "
                                 f"{spec.decoder_factor}): choose another --out")
            return DistillResult(found, "cached")
    crop_px = config.frame_cells * spec.factor
    split = training_data(data, crop_px, data_root)
    check_data(split, teacher, crop_px)
    frames = evaluation_frames(split, spec.factor, eval_max_side)
    refs: FrameRefs = frame_refs(teacher, frames)
    threads = torch.get_num_threads()
    start = time.perf_counter()
    student, state = train_student(teacher, digest, split.train, spec, config, out, resume=resume,
                                   on_progress=on_progress, token=token, log=log)
    scores = student_scores(teacher, student, refs)
    if score_linear:
        scores.update(linear_scores(cached_linear_preview(teacher, digest, cache_dir), refs))
    info: dict[str, Any] = {
        "teacher": str(teacher_path), "teacher_digest": digest, "data": data, "spec": spec.to_dict(),
        "config": asdict(config), "latent_shape": list(teacher.latent_shape),
        "parameters": {"decoder": parameter_count(student.decoder), "encoder": parameter_count(student.encoder)},
        "steps": state.step, "train_seconds": round(state.seconds, 1), "device": str(teacher.device),
        "threads": threads, "session_seconds": round(time.perf_counter() - start, 1), "scores": scores,
        "eval_frames": {name: list(image.shape[1:]) for name, image in frames.items()},
        # the teacher as loaded: 0 decodes frames whole, else in tiles of this many px (its training crops)
        "teacher_tile_px": teacher.config.tile_px if isinstance(teacher, DiffusersKLVAE) else 0,
        "history": state.history, "command": command or f"distill_teacher({shlex.quote(str(teacher_path))}, {data!r})",
        "explorer_version": explorer.__version__, "torch_version": torch.__version__,
    }
    student.cpu()
    if time_onnx:  # before the card, which states it
        tmp = out / ".timing"
        student.save_pretrained(str(tmp), safe_serialization=True)
        try:
            info["onnx_ms_per_frame"] = onnx_frame_ms(tmp, spec.factor)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    files = write_student(out, student, info, render_card(out.name, info), tuple(teacher.config.input_shape[1:]),
                          exporters)
    return DistillResult(files, "trained")


__all__ = ["DistillResult", "distill_teacher", "render_card", "scoring_pair", "scoring_study", "teacher_model", "teacher_spec", "training_data"]
