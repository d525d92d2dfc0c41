"""Latent crops and their targets (explorer.preview.distill.crops): a border of 4 cells is dropped from every target
side that is not the frame's edge, and crops are cut from the same place of code, image and decode."""

from __future__ import annotations

import pytest
import torch

from explorer.preview.distill.crops import (TeacherBatch, cut_crops, decoder_losses, encoder_losses, interior,
                                            keep_mask, student_decode)
from explorer.preview.distill.student import StudentSpec, build_student

FACTOR, CROP, BORDER, FRAME = 4, 12, 4, 16


def frames(n: int = 2, cells: int = FRAME) -> TeacherBatch:
    g = torch.Generator().manual_seed(0)
    px = cells * FACTOR
    return TeacherBatch(torch.rand(n, 3, px, px, generator=g), torch.randn(n, 4, cells, cells, generator=g),
                        torch.rand(n, 3, px, px, generator=g))


def test_interior_drops_the_border_on_each_side():
    t = torch.arange(2 * 3 * 10 * 12.0).view(2, 3, 10, 12)
    assert interior(t, 4).shape == (2, 3, 2, 4)
    assert torch.equal(interior(t, 4), t[..., 4:6, 4:8])
    with pytest.raises(ValueError, match="leaves nothing"):
        interior(t, 5)


def test_the_border_is_dropped_except_where_the_crop_ends_with_its_frame():
    keep = keep_mask([(0, 2, 3), (0, 0, 0), (0, FRAME - CROP, 1)], CROP, FRAME, BORDER)  # (3, 1, 12, 12)
    assert keep.shape == (3, 1, CROP, CROP)
    inner = torch.zeros(CROP, CROP)
    inner[BORDER:-BORDER, BORDER:-BORDER] = 1
    assert torch.equal(keep[0, 0], inner)  # inside the frame: 4 cells dropped at every side
    assert keep[0, 0].sum() == (CROP - 2 * BORDER) ** 2
    top_left = torch.zeros(CROP, CROP)
    top_left[:-BORDER, :-BORDER] = 1
    assert torch.equal(keep[1, 0], top_left)  # the frame's top and left edges are kept
    bottom = torch.zeros(CROP, CROP)
    bottom[BORDER:, BORDER:-BORDER] = 1
    assert torch.equal(keep[2, 0], bottom)  # the frame's bottom edge is kept


def test_crops_cut_code_image_and_decode_at_the_same_place():
    batch = frames()
    crops = cut_crops(batch, [(1, 2, 3), (0, 0, 4)], CROP, FACTOR, BORDER)
    assert crops.codes.shape == (2, 4, CROP, CROP) and crops.decodes.shape == (2, 3, CROP * FACTOR, CROP * FACTOR)
    assert crops.keep.shape == (2, 1, CROP, CROP)
    assert torch.equal(crops.codes[0], batch.codes[1, :, 2:2 + CROP, 3:3 + CROP])
    assert torch.equal(crops.decodes[0], batch.decodes[1, :, 8:8 + CROP * FACTOR, 12:12 + CROP * FACTOR])
    assert torch.equal(crops.images[1], batch.images[0, :, 0:CROP * FACTOR, 16:16 + CROP * FACTOR])
    with pytest.raises(ValueError, match="leaves nothing"):
        cut_crops(batch, [(0, 0, 0)], CROP, FACTOR, 6)


def test_the_losses_ignore_the_dropped_border_and_see_the_rest():
    student = build_student(StudentSpec(4, factor=FACTOR, width=8))
    crops = cut_crops(frames(), [(0, 1, 1), (1, 2, 3)], CROP, FACTOR, BORDER)  # inside the frame: every side dropped
    with torch.no_grad():
        base = decoder_losses(student, crops, FACTOR, edge_weight=0.1)["loss"]
        latent = encoder_losses(student, crops)["latent_mse"]
        edge_px = BORDER * FACTOR
        border_changed = crops.decodes.clone()
        border_changed[..., :edge_px, :] = 1 - border_changed[..., :edge_px, :]  # the top band: all border
        border_changed[..., :, -edge_px:] = 0.5
        same = TeacherBatch(crops.images, crops.codes, border_changed, crops.keep)  # the student decodes the same codes
        assert torch.equal(decoder_losses(student, same, FACTOR, edge_weight=0.1)["loss"], base)
        codes_changed = crops.codes.clone()
        codes_changed[..., :BORDER] += 5.0  # the encoder's targets, at their left border cells
        same = TeacherBatch(crops.images, codes_changed, crops.decodes, crops.keep)
        assert torch.equal(encoder_losses(student, same)["latent_mse"], latent)
        inner = crops.decodes.clone()
        inner[..., edge_px:-edge_px, edge_px:-edge_px] += 0.25
        moved = decoder_losses(student, TeacherBatch(crops.images, crops.codes, inner, crops.keep), FACTOR)["mse"]
        assert (moved != decoder_losses(student, crops, FACTOR)["mse"]).all()
    assert base.shape == latent.shape == (2,)  # per sample
    assert student_decode(student, crops.codes).shape == crops.decodes.shape
