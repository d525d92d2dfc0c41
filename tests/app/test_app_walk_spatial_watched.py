"""Never freeze on the spatial walk, with the slow stand-in model given a spatial code (tests/support/slow_model.py,
spatial=2: a 2 x 8 x 8 code, each decoder block sleeping): the studio's server decodes (ui/shared/watched_decode.py,
the page's own work function on ui.services.watched) report a determinate bar within a second that advances per
block; a newer release of the session supersedes the running decode, which runs at most one more block (counted
from the model's block log, not from the results shown); a session has one decode running or waiting, and sessions
are served first in, first out; in AppTest the page decodes through them, and one over the memory budget is refused
before it starts, naming its size."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.checkpoint import save_pretrained
from explorer.models.registry import build_model
from explorer.runtime.progress import Cancelled
from tests.support.apptest_helpers import errors, image_by_caption, open_app
from tests.support.slow_model import SlowVAE
from ui.shared.watched_decode import decode_work
from ui.services import watched

BLOCK_S = 0.15
assert SlowVAE.family == "slow-test"  # importing it registers the family


def _model(seconds: float = BLOCK_S, peak_gb: float = 0.001):
    torch.manual_seed(0)
    return build_model("slow-test", spatial=2, seconds_per_block=seconds, blocks=4, peak_gb=peak_gb).eval()


def _code(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 8, 8)).astype(np.float32)


def _start(session: str, model, seed: int = 0) -> watched.Job:
    return watched.start(session, ("walk", seed), decode_work(model, _code(seed)))


def test_the_bar_comes_within_a_second_and_advances_per_block():
    model = _model()
    seen: list[tuple[float, int, int]] = []
    t0 = time.monotonic()
    job = _start("spatial-progress", model)

    def show(j: watched.Job) -> None:
        if j.progress is not None:
            seen.append((time.monotonic() - t0, j.progress.done, j.progress.total))

    image = watched.wait(job, show, poll_s=0.05)
    assert image.shape == (3, 32, 32)
    assert seen and seen[0][0] < 1.0 and seen[0][2] >= 4  # determinate: a total of blocks, within a second
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and len(set(done)) >= 3  # it advances block by block


def test_a_newer_release_stops_the_running_decode_within_one_block():
    model = _model()
    first = _start("spatial-two", model, seed=0)
    while first.progress is None or first.progress.done < 1:
        time.sleep(0.01)
    moment = time.monotonic()
    ended: list[float] = []
    first.future.add_done_callback(lambda _f: ended.append(time.monotonic()))
    second = _start("spatial-two", model, seed=1)  # the page's next release in the same session
    with pytest.raises(Cancelled):
        first.future.result(timeout=10)
    after = [run for run in model.blocks_after(moment) if run.start < ended[0]]
    print(f"blocks run after the supersede: {len(after)}")
    assert len(after) <= 1  # at most the block already running when the newer release came
    assert watched.current("spatial-two") is second  # one call per session: the newest
    assert second.future.result(timeout=30).shape == (3, 32, 32)


def test_sessions_are_served_first_in_first_out():
    model = _model(0.05)
    ends: dict[str, float] = {}
    jobs = {name: _start(name, model, seed=i) for i, name in enumerate(["fifo-a", "fifo-b", "fifo-c"])}
    for name, job in jobs.items():
        job.future.add_done_callback(lambda _f, n=name: ends.setdefault(n, time.monotonic()))
    for job in jobs.values():
        job.future.result(timeout=30)
    assert sorted(ends, key=ends.get) == ["fifo-a", "fifo-b", "fifo-c"]


@pytest.fixture
def spatial_slow(app_env, tmp_path, monkeypatch):
    def make(peak_gb: float) -> Path:
        folder = tmp_path / f"slow-{peak_gb:g}" / "slow-spatial"
        save_pretrained(_model(0.01, peak_gb), folder)
        monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent),
                                                                   str(folder.parent)]))
        monkeypatch.setattr("sys.argv", ["app.py", "--image-size", "32"])
        return folder
    return make


def test_the_studio_decodes_through_watched_calls_and_refuses_beyond_memory(spatial_slow):
    at = open_app(spatial_slow(0.001), "walk")
    assert not at.exception and not errors(at), errors(at)
    start = image_by_caption(at, "start code (full decode)")
    assert start
    at.slider(key="spatial_axis_0").set_value(2.0).run()
    assert not at.exception and not errors(at)
    assert image_by_caption(at, "full decode") != start
    refused = open_app(spatial_slow(10_000.0), "walk")  # 10 TB declared per image: refused before it starts
    text = " ".join(errors(refused))
    assert "Not started" in text and "refused before starting" in text and "GB" in text, text
    assert not refused.exception
