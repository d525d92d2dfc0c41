"""Never freeze, with the slow stand-in model (tests/support/slow_model.py: its decode sleeps per block and
declares a 6 GB peak): Reconstruct states its budget, cuts the IWAE samples to it and refuses a decode over the
memory budget up front; the watched call (ui.services.watched + inference.score_watched, the page's own path)
reports progress within a second, and a Cancel or a newer request of the session stops it within one block."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.checkpoint import save_pretrained
from explorer.models.registry import build_model
from explorer.runtime.budget import Budget
from explorer.runtime.progress import Cancelled
from tests.support.apptest_helpers import errors, open_app, switch_page
from tests.support.bad_files import encode
from tests.support.slow_model import GB
from ui.services import inference, watched

BLOCK_S = 0.15  # seconds per decoder block here (the model's default is 2 s; the tests keep the suite short)


def _model(seconds: float = BLOCK_S, blocks: int = 4):
    torch.manual_seed(0)
    return build_model("slow-test", seconds_per_block=seconds, blocks=blocks).eval()


@pytest.fixture
def slow_env(app_env, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "slow-models" / "slow-test"
    save_pretrained(_model(0.02), folder)
    dirs = [str(app_env["tiny-conv-mnist5k"].parent), str(folder.parent)]
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join(dirs))
    return folder


def _photo() -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)))


def _reconstruct_upload(at) -> None:
    at.radio(key="rec_source").set_value("Upload images")
    at.run()
    at.file_uploader(key="rec_files").set_value(("photo.png", _photo(), "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_reconstruct_states_its_budget_cuts_iwae_to_it_and_refuses_beyond_memory(slow_env):
    at = open_app(slow_env)
    assert not any("?-dimensional" in c.value for c in at.caption)
    at.number_input(key="rec_budget_s").set_value(1.0)
    at.number_input(key="rec_budget_gb").set_value(8.0)
    _reconstruct_upload(at)
    assert not errors(at)
    captions = " ".join(c.value for c in at.caption)
    # 0.08 s a decode (4 blocks of 0.02 s) and a 1 s budget: far fewer than the 100 samples asked for
    assert "IWAE samples cut from 100 to" in captions and "1 s budget" in captions
    assert "Budget per call: 1 s and 8 GB" in captions
    k = int(captions.split("IWAE samples cut from 100 to ")[1].split(":")[0])
    assert 1 <= k < 100
    assert any(m.label == f"IWAE log p(x), k={k}" for m in at.metric)
    # 6 GB declared per image: under a 2 GB budget the decode is refused before it starts, with its size
    at.number_input(key="rec_budget_gb").set_value(2.0)
    at.run()
    refused = " ".join(errors(at))
    assert "refused before starting" in refused and "6.0 GB" in refused and "2.0 GB" in refused
    assert not at.metric


def _score_job(session: str, model, k: int = 4):
    image = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    budget = Budget(seconds=600, memory_bytes=8 * GB)
    return watched.start(session, ("score", k), lambda on_progress, token, job: inference.score_watched(
        model, f"slow-{id(model)}", image, k, 0, 2, budget, on_progress, token, job))


def test_progress_appears_within_a_second_and_advances_per_block_with_the_time_left():
    model = _model()
    seen: list[tuple[float, float, float | None, str]] = []
    start = time.monotonic()
    job = _score_job("progress", model)

    def show(j: watched.Job) -> None:
        if j.progress is not None:
            seen.append((time.monotonic() - start, j.progress.fraction, j.progress.eta_s, j.stage))

    result = watched.wait(job, show, poll_s=0.05)
    assert result.plan is not None and result.plan.k == 4
    assert seen and seen[0][0] < 1.0  # a determinate bar within a second of the start
    stages = [stage for *_, stage in seen]
    assert stages[0].startswith("timing") and stages[-1] == "scoring"  # the bar restarts per named stage
    for stage in set(stages):
        fractions = [f for _, f, _, s in seen if s == stage]
        assert fractions == sorted(fractions) and len(set(fractions)) >= 3, stage  # it advances block by block
    assert any(eta is not None and eta > 0 for _, _, eta, _ in seen)  # with an estimate of the time left


def _blocks_before(model, moment: float, end: float) -> int:
    return sum(1 for run in model.blocks_after(moment) if run.start < end)


def test_cancel_stops_the_running_call_within_one_block():
    model = _model()
    job = _score_job("cancel", model)
    while job.progress is None or job.progress.done < 2:
        time.sleep(0.01)
    moment = time.monotonic()
    watched.cancel("cancel", "Cancel pressed")
    with pytest.raises(Cancelled, match="Cancel pressed"):
        job.future.result(timeout=10)
    assert len(model.blocks_after(moment)) <= 1  # at most the block already running; nothing after it


def test_a_second_request_supersedes_the_first_within_one_block():
    model = _model()
    first = _score_job("two-requests", model)
    while first.progress is None or first.progress.done < 2:
        time.sleep(0.01)
    moment = time.monotonic()
    ended: list[float] = []
    first.future.add_done_callback(lambda _f: ended.append(time.monotonic()))
    second = _score_job("two-requests", model, k=1)
    with pytest.raises(Cancelled):
        first.future.result(timeout=10)
    assert _blocks_before(model, moment, ended[0]) <= 1  # the superseded call ran at most one more block
    assert watched.current("two-requests") is second  # one call per session: the newest
    assert second.future.result(timeout=30).plan.k == 1
    assert threading.current_thread().name != "vae-inference"


class _SlowLinear(torch.nn.Linear):
    """The slow model's encoder layer, taking 50 ms a call: a stand-in for a big encoder."""

    def forward(self, x):
        time.sleep(0.05)
        return super().forward(x)


def test_a_data_set_is_encoded_only_as_far_as_the_time_budget_goes(app_env):
    from ui.app.dataviews import encode_plan

    model = _model(0.0)
    slow = _SlowLinear(model.enc.in_features, model.enc.out_features)
    slow.load_state_dict(model.enc.state_dict())
    model.enc = slow
    items, batch, note = encode_plan(model, "slow-enc", "mnist5k", "{}", (3, 32, 32), (0.0, 0.0, 0.0), 2000, 1.0)
    assert 1 <= items < 60 and 1 <= batch <= items  # about 20 of 2000 at 50 ms an item (a loaded machine: fewer)
    assert note.startswith("items cut from 2000 to") and "1 s budget" in note
    fast = _model(0.0)
    fast_items, _, fast_note = encode_plan(fast, "fast-enc", "mnist5k", "{}", (3, 32, 32), (0.0, 0.0, 0.0), 2000, 20.0)
    assert fast_items > 20 * items  # a small encoder: (nearly) every item


class _CountedLinear(torch.nn.Linear):
    """An encoder layer that counts its calls."""

    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


def test_the_walks_start_item_is_not_encoded_again_after_the_plans_timed_encode(app_env):
    """The plan's timed encode is of the data set's first item, where a walk starts: encode_one gives its code
    without a second encode (seconds for an SD-sized encoder); another image is still encoded."""
    from types import SimpleNamespace

    from ui.app.dataviews import conformed, encode_plan
    from ui.shared.widgets import encode_one

    model = _model(0.0)
    counted = _CountedLinear(model.enc.in_features, model.enc.out_features)
    counted.load_state_dict(model.enc.state_dict())
    model.enc = counted
    encode_plan(model, "counted-enc", "mnist5k", "{}", (3, 32, 32), (0.0, 0.0, 0.0), 2000, 0.01)
    images, _, _ = conformed("mnist5k", "{}", (3, 32, 32), (0.0, 0.0, 0.0), 2)
    ctx = SimpleNamespace(model=model, key="counted-enc")
    before = _CountedLinear.calls
    code = encode_one(ctx, torch.from_numpy(images[0]))
    assert _CountedLinear.calls == before  # the timed encode's code
    np.testing.assert_allclose(code, inference.encode_codes(model, images[:1])[0], rtol=0, atol=1e-6)
    before = _CountedLinear.calls
    encode_one(SimpleNamespace(model=model, key="another-key"), torch.from_numpy(images[0]))
    encode_one(ctx, torch.from_numpy(images[1]))
    assert _CountedLinear.calls == before + 2  # another model key, another image: encoded


def test_a_model_without_a_posterior_says_why_it_shows_no_scores(app_env, tmp_path, monkeypatch):
    diffusers = pytest.importorskip("diffusers")
    tiny = dict(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8), num_encoder_blocks=(1, 1),
                num_decoder_blocks=(1, 1), latent_channels=4)  # a TAESD of a few thousand weights
    folder = tmp_path / "plain" / "taesd-tiny"
    torch.manual_seed(0)
    diffusers.AutoencoderTiny(**tiny).eval().save_pretrained(str(folder), safe_serialization=True)
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent),
                                                               str(folder.parent)]))
    monkeypatch.setattr("sys.argv", ["app.py", "--image-size", "32"])
    at = open_app(folder)
    _reconstruct_upload(at)
    assert not errors(at) and not at.metric
    assert any("no posterior" in i.value and "ELBO" in i.value for i in at.info)
    switch_page(at, "losslab").run()
    assert not at.exception and not errors(at)
    assert any("no posterior" in i.value for i in at.info)


def test_the_loss_lab_runs_as_a_watched_call_that_a_newer_request_stops():
    from ui.pages.losslab.page import variants_work

    model = _model()
    image = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    stages: list[str] = []

    def start(session: str):
        work = variants_work(model, image, (1, 0), 1.0, np.zeros(3))
        return watched.start(session, ("lab", session), lambda on_progress, token, job: work(
            lambda p: (stages.append(job.stage), on_progress(p)), token, job))

    job = start("lab")
    variants, means = job.future.result(timeout=60)
    assert set(variants) == set(means) == {"original", "shifted", "reconstruction", "blank", "blurred"}
    assert "reconstruction: decode, 2 of 6" in stages and stages[-1].endswith("6 of 6")  # a named stage a call
    recon = model.reconstruct(torch.from_numpy(image)[None])[0].numpy()
    np.testing.assert_allclose(variants["reconstruction"], recon, atol=1e-6)  # the page's own reconstruction
    # a newer request of the session stops the running decode within one block
    first = start("lab2")
    while first.progress is None or first.progress.done < 2:
        time.sleep(0.01)
    moment = time.monotonic()
    ended: list[float] = []
    first.future.add_done_callback(lambda _f: ended.append(time.monotonic()))
    start("lab2")
    with pytest.raises(Cancelled):
        first.future.result(timeout=10)
    assert _blocks_before(model, moment, ended[0]) <= 1
