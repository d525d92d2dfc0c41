"""The hook for tier b (explorer/preview/tiers.py): a model's student decoder is the ONNX file in the sibling folder
`<name>-student/` that vae-distill writes, and nothing where there is none."""

from __future__ import annotations

from explorer.preview.tiers import student_folder, student_onnx_path


def test_no_student_folder_no_student(tmp_path):
    (tmp_path / "teacher").mkdir()
    assert student_onnx_path(tmp_path / "teacher") is None
    assert student_onnx_path(None) is None


def test_the_student_decoder_is_found_beside_the_teacher(tmp_path):
    teacher = tmp_path / "kl-f4-photos"
    teacher.mkdir()
    student = student_folder(teacher)
    assert student == tmp_path / "kl-f4-photos-student"
    (student / "onnx").mkdir(parents=True)
    assert student_onnx_path(teacher) is None  # a student folder with no ONNX decoder (yet)
    (student / "onnx" / "encoder.onnx").write_bytes(b"x")
    (student / "onnx" / "student-decoder.onnx").write_bytes(b"x")
    assert student_onnx_path(teacher) == student / "onnx" / "student-decoder.onnx"
    (student / "decoder.onnx").write_bytes(b"x")
    assert student_onnx_path(teacher) == student / "decoder.onnx"  # the conventional name first
