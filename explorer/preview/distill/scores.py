"""How good and how fast a student is: PSNR against the teacher on full frames, the linear tier's PSNR beside it, and
onnxruntime's time per frame.

Full frames: whole held-out photographs (cut to multiples of the teacher's factor), encoded by the teacher to its
scaled latent and decoded by the teacher (the reference) and by the student. The student's encoder is scored by what
the teacher's decoder makes of its latent, against the same reference.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.analysis.teacher import cut_to_multiple, psnr
from explorer.data.base import DataSplit
from explorer.models.base import VAE, eval_mode
from explorer.models.foreign.diffusers_plain import load_plain
from explorer.onnx.export import export_decoder, frame_seconds
from explorer.preview.distill.crops import at_size, student_decode, student_encode
from explorer.preview.distill.folder import STUDENT_EXPORTERS


@dataclass(frozen=True)
class FrameRefs:
    """The teacher's codes and decodes of the evaluation frames, made once."""

    names: tuple[str, ...]
    images: tuple[Tensor, ...]  # (1, C, H, W) in [0, 1] each
    codes: tuple[Tensor, ...]  # (1, C_lat, H / f, W / f): the teacher's scaled latent
    decodes: tuple[Tensor, ...]  # (1, C, H, W) in [0, 1]: the teacher's decode of the code


def evaluation_frames(data: DataSplit, factor: int, max_side: int = 0, limit: int = 3) -> dict[str, Tensor]:
    """Frames (C, H, W) in [0, 1] by name: the data set's held-out photographs (`extras["held_out_photos"]`) whole,
    else its first `limit` test items; each cut to multiples of `factor`, and centre-cropped to `max_side` (0: whole)."""
    found = data.extras.get("held_out_photos") if data.extras else None
    frames = dict(found) if found else {f"test-{i}": data.test[i][0] for i in range(min(limit, len(data.test)))}
    out = {}
    for name, image in list(frames.items())[:limit]:
        image = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
        if max_side:
            top = max(0, (image.shape[1] - max_side) // 2)
            left = max(0, (image.shape[2] - max_side) // 2)
            image = image[:, top:top + max_side, left:left + max_side]
        out[name] = cut_to_multiple(image, factor)
    if not out:
        raise ValueError(f"the {data.name} data set has no held-out photographs and no test items to score on")
    return out


@torch.no_grad()
def frame_refs(teacher: VAE, frames: dict[str, Tensor]) -> FrameRefs:
    """The teacher's codes and decodes of frames (C, H, W), one frame at a time (their sizes differ)."""
    images, codes, decodes = [], [], []
    for image in frames.values():
        x = image.unsqueeze(0).to(teacher.device)
        code = teacher.encode_code(x).float()
        images.append(x)
        codes.append(code)
        decodes.append(teacher.decode_code(code).float().clamp(0, 1))
    return FrameRefs(tuple(frames), tuple(images), tuple(codes), tuple(decodes))


@torch.no_grad()
def student_scores(teacher: VAE, student: nn.Module, refs: FrameRefs) -> dict[str, Any]:
    """PSNR (dB) against the teacher on each full frame: "decoder" (the student's decode of the teacher's code; a
    half-size preview decoder against the teacher's decode pooled to its size), "encoder" (the teacher's decode of
    the student's code) and their means over the frames."""
    decoder, encoder = {}, {}
    with eval_mode(student):
        for name, x, code, ref in zip(refs.names, refs.images, refs.codes, refs.decodes):
            shown = student_decode(student, code)
            decoder[name] = psnr(at_size(ref, shown.shape[-2]), shown)
            encoder[name] = psnr(ref, teacher.decode_code(student_encode(student, x)).float())
    return {"decoder_psnr_db": decoder, "encoder_psnr_db": encoder,
            "mean_decoder_psnr_db": sum(decoder.values()) / len(decoder),
            "mean_encoder_psnr_db": sum(encoder.values()) / len(encoder)}


@torch.no_grad()
def linear_scores(preview: Any, refs: FrameRefs) -> dict[str, Any]:
    """The linear tier's PSNR (dB) against the teacher on the same frames: its cell colours upsampled (nearest) to
    the image. preview: an `explorer.preview.linear.LinearPreview`."""
    found = {}
    for name, code, ref in zip(refs.names, refs.codes, refs.decodes):
        shown = F.interpolate(preview.apply(code.cpu()), scale_factor=preview.factor, mode="nearest")
        found[name] = psnr(ref.cpu(), shown)
    return {"linear_psnr_db": found, "mean_linear_psnr_db": sum(found.values()) / len(found)}


def onnx_frame_ms(folder: str | Path, factor: int, latent_sides: tuple[int, ...] = (32, 64)) -> dict[str, float]:
    """onnxruntime's milliseconds per frame (one CPU thread, best of 3 after a warm-up) of a student folder's decoder
    (factor: its upsampling), exported by explorer.onnx.export for a C x side x side latent per side: {"4x32x32": ms}."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in latent_sides:
            model = load_plain(Path(folder), image_size=side * factor, preview_decoder=True)
            path = Path(tmp) / f"decoder-{side}.onnx"
            info = export_decoder(model, path, exporters=STUDENT_EXPORTERS)
            found["x".join(map(str, model.config.latent_shape))] = 1000 * frame_seconds(path, info, repeats=3)
    return found


__all__ = ["FrameRefs", "evaluation_frames", "frame_refs", "linear_scores", "onnx_frame_ms", "student_scores"]
