"""The slow stand-in model: it sleeps per block, logs its blocks, declares its peak, saves and reloads."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models.registry import build_model
from explorer.runtime.memory import MemoryRefused, check_fits, estimate_peak
from explorer.runtime.progress import Cancelled, CancelToken, find_blocks, run_watched
from tests.support.slow_model import GB


def _model(seconds: float = 0.05, blocks: int = 4):
    torch.manual_seed(0)
    return build_model("slow-test", seconds_per_block=seconds, blocks=blocks).eval()


def test_decode_sleeps_per_block_and_logs_each_block():
    model = _model(0.05)
    start = time.monotonic()
    with torch.no_grad():
        image = model.decode(torch.zeros(2, 8)).mean
    assert image.shape == (2, 3, 32, 32)
    assert time.monotonic() - start >= 4 * 0.05
    assert [run.index for run in model.block_log] == [0, 1, 2, 3]
    assert [name for name, _ in find_blocks(model)] == [f"blocks.{i}" for i in range(4)]


def test_declares_six_gb_and_is_refused_up_front():
    model = _model()
    estimate = estimate_peak(model, "decode", batch=1)
    assert estimate.activation_bytes == 6 * GB
    assert estimate_peak(model, "decode", batch=2).activation_bytes == 12 * GB
    with pytest.raises(MemoryRefused, match=r"needs about 6\.0 GB"):
        check_fits(estimate, budget_bytes=4 * GB)
    check_fits(estimate, budget_bytes=8 * GB)


def test_superseded_decode_runs_at_most_one_block_after_the_cancel():
    model = _model(0.2, blocks=6)
    token = CancelToken()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with torch.no_grad():
                run_watched(lambda: model.decode(torch.zeros(1, 8)), model, token=token)
        except Cancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.3)
    moment = time.monotonic()
    token.cancel()
    thread.join(5)
    assert len(errors) == 1
    assert model.blocks_after(moment) == []
    assert len(model.block_log) <= 2  # the first block and the one running at the cancel


def test_saves_and_reloads(tmp_path):
    model = _model(0.0)
    save_pretrained(model, tmp_path / "slow")
    again = from_pretrained(tmp_path / "slow")
    assert again.config.seconds_per_block == 0.0 and again.config.peak_gb == 6.0
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
