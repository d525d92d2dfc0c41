"""The student's size (explorer.preview.distill.student): stages follow the teacher's factor, bad sizes are refused,
and a saved student reloads with diffusers' own AutoencoderTiny.from_pretrained."""

from __future__ import annotations

import pytest
import torch

from explorer.preview.distill.student import StudentSpec, build_student


def test_stages_follow_the_teachers_factor():
    f4, f8 = StudentSpec(4, factor=4), StudentSpec(4, factor=8)
    assert (f4.stages, len(f4.encoder_blocks), len(f4.decoder_blocks)) == (3, 3, 3)
    assert (f8.stages, len(f8.encoder_blocks), len(f8.decoder_blocks)) == (4, 4, 4)
    assert f4.decoder_blocks[-1] == 0 and f8.decoder_blocks[-2:] == (0, 0)  # nothing heavy at full size


def test_a_half_size_preview_decoder_has_one_decoder_stage_fewer():
    half = StudentSpec(4, factor=8, decoder_factor=4)
    assert (half.stages, half.decoder_stages, half.decoder_blocks, half.preview_only) == (4, 3, (3, 2, 0), True)
    assert StudentSpec(4, factor=2, decoder_factor=1).decoder_blocks == (3,)  # no upsampling left at all
    assert not StudentSpec(4, factor=8).preview_only and StudentSpec(4, factor=8).decoder_factor == 8
    old = {k: v for k, v in StudentSpec(4, factor=8).to_dict().items() if k != "decoder_factor"}
    assert StudentSpec.from_dict(old) == StudentSpec(4, factor=8)  # a student.json written before the field


@pytest.mark.parametrize("kwargs,words", [({"factor": 6}, "power of 2"), ({"factor": 4, "width": 2}, "width"),
                                          ({"factor": 4, "decoder_blocks": (1, 1)}, "3 integers"),
                                          ({"factor": 8, "decoder_factor": 2}, "half of it"),
                                          ({"factor": 8, "decoder_factor": 4, "decoder_blocks": (1, 1, 1, 1)},
                                           "3 integers")])
def test_bad_sizes_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        StudentSpec(4, **kwargs)


def test_spec_round_trips_through_a_dict():
    spec = StudentSpec(16, factor=8, width=24)
    assert StudentSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("factor,decoder_factor", [(4, 4), (8, 8), (8, 4)])
def test_student_upsamples_by_the_factor_and_reloads_with_from_pretrained(factor, decoder_factor, tmp_path):
    from diffusers import AutoencoderTiny

    student = build_student(StudentSpec(4, factor=factor, width=8, decoder_factor=decoder_factor), seed=0).eval()
    code = torch.randn(1, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        image = student.decode(code).sample
    assert image.shape == (1, 3, 5 * decoder_factor, 6 * decoder_factor)
    # the encoder reads a full-size image (a half-size decoder's output is not one)
    full = image if decoder_factor == factor else torch.rand(1, 3, 5 * factor, 6 * factor) * 2 - 1
    student.save_pretrained(str(tmp_path), safe_serialization=True)
    again = AutoencoderTiny.from_pretrained(str(tmp_path), local_files_only=True).eval()
    with torch.no_grad():
        assert torch.equal(again.decode(code).sample, image)
        assert again.encode(full).latents.shape == (1, 4, 5, 6)
        assert torch.equal(again.encode(full).latents, student.encode(full).latents)
