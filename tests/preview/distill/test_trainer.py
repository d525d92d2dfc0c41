"""The training loop (explorer.preview.distill.trainer): a resumed run goes on from its checkpoint exactly as the
uninterrupted run would, a cancelled run checkpoints first, and a checkpoint of another teacher is refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer.cache import weights_digest
from explorer.data import load_dataset
from explorer.preview.distill.job import teacher_model, teacher_spec
from explorer.preview.distill.trainer import (FrameBank, DistillConfig, has_checkpoint, load_checkpoint,
                                              train_student)
from explorer.runtime.progress import Cancelled, CancelToken
from tests.support.distill import TINY_RECIPE, TINY_WIDTH, make_teacher


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    folder = make_teacher(tmp_path_factory.mktemp("teacher") / "kl")
    teacher = teacher_model(folder)
    data = load_dataset("photos", image_size=TINY_RECIPE.frame_cells * 2, n_items=64)
    return teacher, weights_digest(folder), data.train, teacher_spec(teacher, TINY_WIDTH)


def test_resume_goes_on_from_the_checkpoint_as_the_whole_run_would(setup, tmp_path):
    teacher, digest, items, spec = setup
    whole, state = train_student(teacher, digest, items, spec, replace(TINY_RECIPE, max_steps=4), tmp_path / "whole")
    assert state.step == 4
    train_student(teacher, digest, items, spec, TINY_RECIPE, tmp_path / "split")  # 2 steps, checkpointed
    assert has_checkpoint(tmp_path / "split")
    with pytest.raises(ValueError, match="--resume"):  # no silent restart over a checkpoint
        train_student(teacher, digest, items, spec, TINY_RECIPE, tmp_path / "split")
    saved, _ = load_checkpoint(tmp_path / "split", spec, digest)
    resumed, state = train_student(teacher, digest, items, spec, replace(TINY_RECIPE, max_steps=4),
                                   tmp_path / "split", resume=True)
    assert state.step == 4 and [r["step"] for r in state.history] == []  # history every 25 steps
    _, payload = load_checkpoint(tmp_path / "split", spec, digest)
    assert {int(s["step"]) for s in payload["optimizer"]["state"].values()} == {4}  # Adam's count went on from 2
    moved = max(float((a - b).abs().max()) for a, b in zip(saved.state_dict().values(), resumed.state_dict().values()))
    assert moved > 0
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        # the same crops in the same order and the same Adam state; the bank's teacher decodes, batched otherwise,
        # differ in the last bits, which Adam's first steps (about lr * sign(gradient)) turn into ~1e-4
        assert torch.allclose(a, b, atol=1e-3), name


@pytest.mark.parametrize("every, steps", [(1, 4), (3, 5)])
def test_the_bank_at_a_step_is_the_same_built_afresh(setup, every, steps):
    teacher, _, items, _ = setup
    rolled = FrameBank(teacher, items, 20, 3, seed=0, every=every)
    before = rolled.frames.images.clone()
    for step in range(steps):
        rolled.refresh(step)
    assert not torch.equal(before, rolled.frames.images)
    fresh = FrameBank(teacher, items, 20, 3, seed=0, step=steps, every=every)
    assert torch.equal(rolled.frames.images, fresh.frames.images)
    assert torch.allclose(rolled.frames.codes, fresh.frames.codes, atol=1e-4)  # batched otherwise: last bits
    assert torch.allclose(rolled.frames.decodes, fresh.frames.decodes, atol=1e-4)


def test_a_cancelled_run_checkpoints_then_raises(setup, tmp_path):
    teacher, digest, items, spec = setup
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p.block)
        token.cancel("a newer job")

    with pytest.raises(Cancelled):
        train_student(teacher, digest, items, spec, replace(TINY_RECIPE, max_steps=50), tmp_path, on_progress=progress,
                      token=token)
    assert seen == ["step 1"] and has_checkpoint(tmp_path)
    _, payload = load_checkpoint(tmp_path, spec, digest)
    assert payload["step"] == 1
    with pytest.raises(ValueError, match="another teacher"):
        load_checkpoint(tmp_path, spec, "0" * 64)


@pytest.mark.parametrize("kwargs,words", [({"border": 3}, "--border 3"), ({"crop_cells": 8}, "--crop-cells 8"),
                                          ({"frame_cells": 10}, "--frame-cells 10"), ({"minutes": 0}, "--minutes 0"),
                                          ({"batch_size": 0}, "--batch-size 0")])
def test_bad_recipes_name_the_option(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DistillConfig(**kwargs)


def test_colour_jitter_changes_a_draw_reproducibly_and_leaves_the_rest_as_it_was():
    from explorer.preview.distill.trainer import draw_image

    items = [(torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(1)), 0)]
    plain = draw_image(items, 5, 16, seed=0)
    jittered = draw_image(items, 5, 16, seed=0, colour_jitter=0.3)
    assert torch.equal(jittered, draw_image(items, 5, 16, seed=0, colour_jitter=0.3))
    assert not torch.equal(plain, jittered) and 0 <= float(jittered.min()) and float(jittered.max()) <= 1
    # the crop, turn and channel order are drawn first: the jitter is a per-channel gain and gamma of the same crop
    gain_gamma = [np.polyfit(np.log(plain[c].flatten().clamp_min(1e-3).numpy()),
                             np.log(jittered[c].flatten().clamp_min(1e-3).numpy()), 1) for c in range(3)]
    assert all(0.69 <= g <= 1.31 for g, _ in gain_gamma)
    with pytest.raises(ValueError, match="--colour-jitter"):
        DistillConfig(colour_jitter=1.5)
