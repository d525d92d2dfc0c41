"""Latent crops, the teacher's targets for them, and the student's losses on their interior.

The teacher encodes and decodes frames (`teacher_batch`); crops of `crop` latent cells are cut from a frame's code,
with the matching crop * factor pixels of its image and of its decode (`cut_crops`). The student decodes a crop on its
own, so near the crop's edge it lacks the context the teacher had (and a crop's decode differs there): every target
drops a border of `border` cells (border * factor pixels) at each side of the crop, and only the rest enters the
losses (`keep`, a cell mask). The one exception is a side where the crop ends with its frame: there the teacher had no
context beyond the edge either (its decode of the frame stops there, as a full-frame decode stops at the image's
edge), so that side's border is kept and the student learns how a frame's edge decodes.

Losses are kept per sample (`reduction="none"` style), as every loss of the project is:
- decoder: MSE of the student's decode against the teacher's, in [0, 1] pixels, plus `edge_weight` times the L1 of
  their image gradients (finite differences), which keeps edges sharp where MSE alone blurs;
- encoder: MSE of the student's latent against the teacher's scaled latent (the code the pipeline sees).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.models.base import VAE

MIN_BORDER = 4  # cells dropped at each side of a crop's targets, at least (the decode of a cut-out crop differs there)


def interior(t: Tensor, border: int) -> Tensor:
    """t (..., H, W) without `border` rows and columns at each side: (..., H - 2 border, W - 2 border)."""
    if border < 0 or 2 * border >= min(t.shape[-2:]):
        raise ValueError(f"a border of {border} leaves nothing of a {t.shape[-2]}x{t.shape[-1]} crop")
    return t[..., border:t.shape[-2] - border, border:t.shape[-1] - border] if border else t


@dataclass(frozen=True)
class TeacherBatch:
    """A batch of crops and what the teacher makes of them."""

    images: Tensor  # (B, C, crop * factor, crop * factor) in [0, 1]
    codes: Tensor  # (B, C_lat, crop, crop): the teacher's scaled latent, (z - shift) * scale
    decodes: Tensor  # (B, C, crop * factor, crop * factor) in [0, 1]: the teacher's decode of `codes`
    keep: Tensor | None = None  # (B, 1, crop, crop) 1 where a latent cell's targets enter the losses, else 0


@torch.no_grad()
def teacher_batch(teacher: VAE, images: Tensor) -> TeacherBatch:
    """Encode images (B, C, H, W) in [0, 1] to the teacher's scaled latent (posterior mean) and decode that back."""
    device = teacher.device
    codes = teacher.encode_code(images.to(device)).float()  # (B, C_lat, H / f, W / f)
    decodes = teacher.decode_code(codes).float().clamp(0, 1)  # (B, C, H, W)
    return TeacherBatch(images.to(device).float(), codes, decodes)


def keep_mask(picks: list[tuple[int, int, int]], crop: int, frame_cells: int, border: int) -> Tensor:
    """(B, 1, crop, crop) cell mask of crops at picks (frame, top, left) in frames of frame_cells: 0 on the border
    cells of every side that is not also the frame's edge, 1 elsewhere."""
    keep = torch.ones(len(picks), 1, crop, crop)
    for i, (_, top, left) in enumerate(picks):
        if top > 0:
            keep[i, :, :border] = 0
        if top + crop < frame_cells:
            keep[i, :, crop - border:] = 0
        if left > 0:
            keep[i, :, :, :border] = 0
        if left + crop < frame_cells:
            keep[i, :, :, crop - border:] = 0
    return keep


def cut_crops(frames: TeacherBatch, picks: list[tuple[int, int, int]], crop: int, factor: int,
              border: int) -> TeacherBatch:
    """Crops of crop x crop latent cells from frames: picks are (frame, top cell, left cell); the images and decodes
    are cut at the same place, crop * factor pixels a side, and `keep` drops `border` cells at each side that is not
    the frame's edge (`keep_mask`). Returns a TeacherBatch of len(picks) crops."""
    if border < 0 or 2 * border >= crop:
        raise ValueError(f"a border of {border} cells leaves nothing of a crop of {crop}")
    images, codes, decodes = [], [], []
    px = crop * factor
    for frame, top, left in picks:
        codes.append(frames.codes[frame, :, top:top + crop, left:left + crop])
        y, x = top * factor, left * factor
        images.append(frames.images[frame, :, y:y + px, x:x + px])
        decodes.append(frames.decodes[frame, :, y:y + px, x:x + px])
    keep = keep_mask(picks, crop, frames.codes.shape[-1], border).to(frames.codes.device)
    return TeacherBatch(torch.stack(images), torch.stack(codes), torch.stack(decodes), keep)


def masked_mean(values: Tensor, weight: Tensor) -> Tensor:
    """Per-sample mean (B,) of values (B, C, H, W) over the places where weight (B, 1, H, W) is 1."""
    return (values * weight).flatten(1).sum(1) / (weight.flatten(1).sum(1) * values.shape[1]).clamp_min(1)


def image_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Finite differences of images (B, C, H, W) along H and W: (B, C, H - 1, W), (B, C, H, W - 1)."""
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


def student_decode(student: nn.Module, codes: Tensor) -> Tensor:
    """The student's decode (B, C, H, W) in [0, 1] (unclamped, for the gradients) of scaled latents (B, C_lat, h, w)."""
    return (student.decoder(codes) + 1) / 2  # DecoderTiny writes [-1, 1]


def student_encode(student: nn.Module, images: Tensor) -> Tensor:
    """The student's latent (B, C_lat, h, w) of images (B, C, H, W) in [0, 1]."""
    return student.encoder(images * 2 - 1)  # EncoderTiny reads [-1, 1]


def _keep(batch: TeacherBatch) -> Tensor:
    if batch.keep is None:
        raise ValueError("the crops have no keep mask: cut them with cut_crops")
    return batch.keep


def at_size(decodes: Tensor, side: int) -> Tensor:
    """Teacher decodes (B, C, H, W) pooled to a preview decoder's size (..., side, W * side / H): the mean of each
    pool x pool block (pool = H / side), the image that a half-size decoder is asked to write; as is when H == side."""
    pool = decodes.shape[-2] // side
    return F.avg_pool2d(decodes, pool) if pool > 1 else decodes


def decoder_losses(student: nn.Module, batch: TeacherBatch, factor: int, edge_weight: float = 0.0,
                   decoder_factor: int | None = None) -> dict[str, Tensor]:
    """Per-sample decoder terms (B,) on the kept cells' pixels: "mse", "edge" (L1 of the image gradients, where both
    pixels are kept) and "loss" = mse + edge_weight * edge. decoder_factor: pixels per cell the student's decoder
    writes (default factor; half of it for a half-size preview decoder, scored against the pooled decode)."""
    decoder_factor = decoder_factor or factor
    out = student_decode(student, batch.codes)  # (B, C, h * decoder_factor, w * decoder_factor)
    target = at_size(batch.decodes, out.shape[-2])
    keep = _keep(batch).repeat_interleave(decoder_factor, 2).repeat_interleave(decoder_factor, 3)  # (B, 1, H', W')
    mse = masked_mean((out - target).pow(2), keep)
    (oy, ox), (ty, tx) = image_gradients(out), image_gradients(target)
    ky, kx = keep[..., 1:, :] * keep[..., :-1, :], keep[..., :, 1:] * keep[..., :, :-1]
    edge = masked_mean((oy - ty).abs(), ky) + masked_mean((ox - tx).abs(), kx)
    return {"mse": mse, "edge": edge, "loss": mse + edge_weight * edge}


def encoder_losses(student: nn.Module, batch: TeacherBatch) -> dict[str, Tensor]:
    """Per-sample encoder term (B,): "latent_mse" of the student's latent against the teacher's, on the kept cells."""
    return {"latent_mse": masked_mean((student_encode(student, batch.images) - batch.codes).pow(2), _keep(batch))}


__all__ = ["MIN_BORDER", "TeacherBatch", "at_size", "cut_crops", "keep_mask", "masked_mean", "decoder_losses", "encoder_losses", "image_gradients", "interior",
           "student_decode", "student_encode", "teacher_batch"]
