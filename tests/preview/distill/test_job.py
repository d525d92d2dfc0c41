"""Distillation end to end (explorer.preview.distill.job, .folder): the student is kept per teacher weights digest (the
same teacher is a cache hit, changed weights a miss), reloads with AutoencoderTiny.from_pretrained, and its ONNX
decoder and encoder agree with torch within 1e-5."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from explorer.cache import weights_digest
from explorer.models.foreign.diffusers_plain import load_plain
from explorer.preview.distill.folder import cache_folder, find_student, read_student
from explorer.preview.distill.crops import student_decode
from explorer.preview.distill.job import card_markdown, distill_teacher, scoring_pair, scoring_pair_parser, scoring_study
from tests.support.distill import TINY_RECIPE, TINY_WIDTH, make_teacher

# the linear tier and onnxruntime timings are the bench's
OPTIONS = {"config": TINY_RECIPE, "width": TINY_WIDTH, "eval_max_side": 32, "time_onnx": False, "score_linear": False}


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("distill")
    teacher = make_teacher(root / "kl")
    result = distill_teacher(teacher, "photos", cache_dir=root / "cache", **OPTIONS)
    return root, teacher, result


def test_the_student_is_cached_by_the_teachers_weights(distilled):
    root, teacher, first = distilled
    digest = weights_digest(teacher)
    assert first.status == "trained" and first.files.folder == cache_folder(digest, root / "cache")
    assert first.files.teacher_digest == digest and first.files.info["steps"] == TINY_RECIPE.max_steps
    assert find_student(teacher, root / "cache").folder == first.files.folder
    again = distill_teacher(teacher, "photos", cache_dir=root / "cache", **OPTIONS)
    assert again.status == "cached" and again.files.folder == first.files.folder  # a hit: nothing trained

    make_teacher(teacher, seed=1)  # the teacher's weights change
    assert find_student(teacher, root / "cache") is None
    changed = distill_teacher(teacher, "photos", cache_dir=root / "cache", **OPTIONS)
    assert changed.status == "trained" and changed.files.folder != first.files.folder  # a miss: a new student
    assert changed.files.teacher_digest == weights_digest(teacher) != digest
    assert read_student(first.files.folder, weights_digest(teacher)) is None


def test_a_shipped_student_beside_its_teacher_is_found(distilled, tmp_path):
    root, _, result = distilled
    teacher = make_teacher(tmp_path / "kl")
    shipped = tmp_path / "kl-student"
    made = distill_teacher(teacher, "photos", out=shipped, cache_dir=root / "cache", **OPTIONS)
    assert find_student(teacher, tmp_path / "empty-cache").folder == shipped == made.files.folder
    card = (shipped / "README.md").read_text()
    assert f"distill_teacher({teacher}, 'photos')" in card  # the call that made it
    assert f"{made.scores['mean_decoder_psnr_db']:.2f}" in card


def test_reloads_with_from_pretrained_and_onnx_matches_torch(distilled):
    from diffusers import AutoencoderTiny

    _, _, result = distilled
    folder = result.files.folder
    student = AutoencoderTiny.from_pretrained(str(folder), local_files_only=True).eval()
    model = load_plain(folder, image_size=16)  # the teacher's sample size: 16 px, a 4x8x8 code
    code = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    image = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.decode_code(code)
        assert torch.allclose(expected, ((student.decode(code).sample + 1) / 2).clamp(0, 1))
        expected_code = model.encode_code(image)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    decoder = ort.InferenceSession(str(result.files.decoder_onnx), options, providers=["CPUExecutionProvider"])
    encoder = ort.InferenceSession(str(result.files.encoder_onnx), options, providers=["CPUExecutionProvider"])
    decoded = decoder.run(None, {"code": code.flatten(1).numpy()})[0]
    encoded = encoder.run(None, {"image": image.numpy()})[0]
    assert np.abs(decoded - expected.numpy()).max() <= 1e-5
    assert np.abs(encoded - expected_code.flatten(1).numpy()).max() <= 1e-5


def test_scoring_pair_loads_the_shipped_teacher_and_student():
    """The teacher and its student as the studies in references/ score them: f4, the student in evaluation mode, and
    its decode of the teacher's code the teacher's image size."""
    pretrained = Path(__file__).resolve().parents[3] / "pretrained"
    teacher, student, factor = scoring_pair(pretrained / "kl-f4-photos-student", pretrained / "kl-f4-photos")
    assert factor == 4 and not student.training
    code = teacher.encode_code(torch.rand(1, 3, 32, 32))
    with torch.no_grad():
        assert student_decode(student, code).shape == (1, 3, 32, 32)


def test_scoring_study_parses_the_pair_and_the_studys_own_options(monkeypatch):
    """A study's start: the pair's arguments and its own, one torch thread, and the pair loaded from them."""
    from explorer.preview.distill import job

    loaded = []
    monkeypatch.setattr(job, "scoring_pair", lambda student, teacher: loaded.append((student, teacher)) or ("T", "S", 4))
    threads = torch.get_num_threads()
    try:
        args, teacher, student, factor = scoring_study("a study", ["runs/s", "--window", "9"], lambda ap: ap.add_argument(
            "--window", type=int, default=17))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert vars(args) == {"student": "runs/s", "teacher": "pretrained/kl-f4-photos", "window": 9}
    assert (teacher, student, factor) == ("T", "S", 4) and loaded == [("runs/s", "pretrained/kl-f4-photos")]
    ap = scoring_pair_parser("a study")
    assert vars(ap.parse_args(["runs/s", "--teacher", "t"])) == {"student": "runs/s", "teacher": "t"}


@pytest.mark.slow
def test_the_shipped_students_card_psnr_is_what_the_weights_give_and_above_25_db():
    """The shipped student against the shipped teacher as the explorer loads it (in its 64 px tiles), on the full
    frames of the held-out photographs: student.json's figures, each at least the 25 dB the preview promises."""
    from explorer.data import load_dataset
    from explorer.preview.distill.scores import evaluation_frames, frame_refs, student_scores

    pretrained = Path(__file__).resolve().parents[3] / "pretrained"
    info = json.loads((pretrained / "kl-f4-photos-student" / "student.json").read_text())
    teacher, student, factor = scoring_pair(pretrained / "kl-f4-photos-student", pretrained / "kl-f4-photos")
    assert info["teacher_tile_px"] == teacher.config.tile_px == 64
    scores = student_scores(teacher, student, frame_refs(teacher, evaluation_frames(load_dataset("photos"), factor)))
    for name, db in info["scores"]["decoder_psnr_db"].items():
        assert scores["decoder_psnr_db"][name] == pytest.approx(db, abs=0.01) and db >= 25.0, name
    assert "64 px tiles" in card_markdown("kl-f4-photos-student", info)
