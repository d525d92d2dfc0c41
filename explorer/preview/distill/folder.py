"""The student's folder: a diffusers `AutoencoderTiny` folder (`save_pretrained`) plus its ONNX files, scores and card,
kept per teacher.

    <folder>/config.json, diffusion_pytorch_model.safetensors    AutoencoderTiny.from_pretrained(folder) reads these
    <folder>/onnx/decoder.onnx (+ decoder.json)                   flat code (B, C*h*w) -> image (B, C, H, W) in [0, 1]
    <folder>/onnx/encoder.onnx (+ encoder.json)                   image (B, C, H, W) in [0, 1] -> flat code (B, C*h*w)
    <folder>/student.json                                         the teacher's weights digest, recipe, scores
    <folder>/README.md                                            the card
    <folder>/checkpoint/                                          the last training checkpoint (--resume goes on)

The ONNX files are made by explorer.onnx.export for the teacher's own latent shape (its sample_size), the contract
of every decoder the page runs. They sit in onnx/ so that the folder is detected as a diffusers folder.

Where a teacher's student lives: `CACHE/models/<teacher digest>/preview/student-v1/` (explorer.cache), so a teacher
whose weights change gets a new one; `find_student` also accepts a shipped `<teacher folder>-student/` beside the
teacher whose student.json names the same digest (pretrained/kl-f4-photos-student).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from explorer.cache import entry_path, weights_digest
from explorer.files import atomic_write_json
from explorer.models.foreign.detect import CONFIG_NAME, DIFFUSERS_WEIGHTS
from explorer.models.foreign.diffusers_plain import load_plain
from explorer.onnx.export import export_decoder, export_encoder

CACHE_KIND = "preview"
CACHE_NAME = "student-v1"  # bump when the recipe changes what a student is
SCORES_NAME = "student.json"
ONNX_DIR = "onnx"
CHECKPOINT_DIR = "checkpoint"
SHIPPED_SUFFIX = "-student"
# plain convs, ReLU and nearest upsampling: the TorchScript exporter writes them in about a second where torch.export
# takes tens of seconds on this machine; both are checked against torch on a probe batch (explorer.onnx.export)
STUDENT_EXPORTERS = ("torchscript", "dynamo")


@dataclass(frozen=True)
class StudentFiles:
    """A finished student: its folder, the ONNX decoder the page runs, and what student.json says."""

    folder: Path
    decoder_onnx: Path
    encoder_onnx: Path
    info: dict[str, Any]

    @property
    def teacher_digest(self) -> str:
        return str(self.info.get("teacher_digest", ""))


def cache_folder(teacher_digest: str, cache_dir: str | Path | None = None) -> Path:
    """Where the student of a teacher with this weights digest is kept (not created)."""
    return entry_path(teacher_digest, CACHE_KIND, CACHE_NAME, cache_dir)


def read_student(folder: str | Path, teacher_digest: str | None = None) -> StudentFiles | None:
    """The finished student in folder, or None when it is incomplete, unreadable, or (teacher_digest given) made
    from a teacher with other weights."""
    folder = Path(folder)
    try:
        info = json.loads((folder / SCORES_NAME).read_text())
    except (OSError, ValueError):
        return None
    files = StudentFiles(folder, folder / ONNX_DIR / "decoder.onnx", folder / ONNX_DIR / "encoder.onnx", info)
    needed = (folder / CONFIG_NAME, folder / DIFFUSERS_WEIGHTS, files.decoder_onnx, files.encoder_onnx)
    if not isinstance(info, dict) or not all(p.is_file() for p in needed):
        return None
    if teacher_digest is not None and files.teacher_digest != teacher_digest:
        return None
    return files


def find_student(teacher: str | Path, cache_dir: str | Path | None = None) -> StudentFiles | None:
    """The distilled student of the teacher folder (or file) `teacher`, or None when none has been made for its
    current weights: the cache entry of its weights digest first, then a shipped `<teacher>-student` folder beside
    it. Cheap (a digest, memoised per file, and a few stats): the page may call it on every run."""
    teacher = Path(teacher)
    digest = weights_digest(teacher)
    found = read_student(cache_folder(digest, cache_dir), digest)
    if found is None:
        found = read_student(teacher.parent / f"{teacher.name}{SHIPPED_SUFFIX}", digest)
    return found


def write_student(folder: str | Path, student: nn.Module, info: dict[str, Any], card: str,
                  image_size: int | tuple[int, int], exporters: tuple[str, ...] = STUDENT_EXPORTERS) -> StudentFiles:
    """Save the student into folder: `save_pretrained` (safetensors), its ONNX decoder and encoder for images of
    image_size (the teacher's sample size), `info` as student.json (last, so a folder without it is unfinished) and
    the card. exporters: explorer.onnx.export's, in the order tried. Returns the files. Older files of the folder are replaced, checkpoint/ is left as it is."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SCORES_NAME).unlink(missing_ok=True)  # unfinished until the end
    student.save_pretrained(str(folder), safe_serialization=True)
    # the explorer's view of the folder: codes in, [0, 1] out (a half-size preview decoder writes half the size)
    model = load_plain(folder, image_size=image_size, preview_decoder=True)
    exported = {}
    for part, export in (("decoder", export_decoder), ("encoder", export_encoder)):
        made = export(model, folder / ONNX_DIR / f"{part}.onnx", exporters=exporters)
        atomic_write_json(folder / ONNX_DIR / f"{part}.json", made.to_dict())
        exported[part] = {"file": f"{ONNX_DIR}/{made.file}", "bytes": made.size_bytes, "exporter": made.exporter,
                          "probe_max_abs_diff": made.probe_max_abs_diff,
                          "input_shapes": made.input_shapes, "output_shapes": made.output_shapes}
    (folder / "README.md").write_text(card)
    atomic_write_json(folder / SCORES_NAME, {**info, "onnx": exported})
    found = read_student(folder)
    assert found is not None, folder  # every file was just written
    return found


__all__ = ["CACHE_KIND", "CACHE_NAME", "CHECKPOINT_DIR", "SCORES_NAME", "STUDENT_EXPORTERS", "StudentFiles",
           "cache_folder", "find_student", "read_student", "write_student"]
