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


@pytest.mark.parametrize("kwargs,words", [({"factor": 6}, "power of 2"), ({"factor": 4, "width": 2}, "width"),
                                          ({"factor": 4, "decoder_blocks": (1, 1)}, "3 integers")])
def test_bad_sizes_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        StudentSpec(4, **kwargs)


def test_spec_round_trips_through_a_dict():
    spec = StudentSpec(16, factor=8, width=24)
    assert StudentSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("factor", [4, 8])
def test_student_upsamples_by_the_factor_and_reloads_with_from_pretrained(factor, tmp_path):
    from diffusers import AutoencoderTiny

    student = build_student(StudentSpec(4, factor=factor, width=8), seed=0).eval()
    code = torch.randn(1, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        image = student.decode(code).sample
    assert image.shape == (1, 3, 5 * factor, 6 * factor)
    student.save_pretrained(str(tmp_path), safe_serialization=True)
    again = AutoencoderTiny.from_pretrained(str(tmp_path), local_files_only=True).eval()
    with torch.no_grad():
        assert torch.equal(again.decode(code).sample, image)
        assert torch.equal(again.encode(image).latents, student.encode(image).latents)
