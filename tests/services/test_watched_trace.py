"""ui.services.watched's trace (VAE_EXPLORER_TRACE), with the slow stand-in model's spatial decode (each block
sleeps): one JSON line per event; a superseded call's "finished" line counts the blocks that ended after its cancel,
checked against the model's own block log; a call superseded while waiting never starts a block; no file without the
variable. bench/bench_sessions.py's trace_summary reads it: calls per session at once, superseded calls' blocks."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from bench.bench_sessions import trace_summary
from explorer.models.registry import build_model
from explorer.runtime.progress import Cancelled
from tests.support.slow_model import SlowVAE
from ui.services import watched
from ui.shared.watched_decode import decode_work

BLOCK_S = 0.05
assert SlowVAE.family == "slow-test"  # importing it registers the family


def _model():
    torch.manual_seed(0)
    return build_model("slow-test", spatial=2, seconds_per_block=BLOCK_S, blocks=4, peak_gb=0.001).eval()


def _start(session: str, model, seed: int) -> watched.Job:
    code = np.random.default_rng(seed).standard_normal((2, 8, 8)).astype(np.float32)
    return watched.start(session, ("walk", seed), decode_work(model, code))


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_trace_counts_the_blocks_a_superseded_call_ran_after_its_cancel(tmp_path, monkeypatch):
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(watched.TRACE_ENV, str(trace))
    model = _model()
    first = _start("trace-a", model, 0)
    while first.progress is None or first.progress.done < 2:
        time.sleep(0.005)
    second = _start("trace-a", model, 1)  # supersedes the first, which stops at its next block boundary
    waiting = _start("trace-b", model, 2)  # queued behind the second
    newest = _start("trace-b", model, 3)  # supersedes it while it waits: it never starts a block
    with pytest.raises(Cancelled):
        first.future.result(timeout=10)
    with pytest.raises(Cancelled):
        waiting.future.result(timeout=10)
    second.future.result(timeout=10), newest.future.result(timeout=10)

    events = _events(trace)
    by_job = {job.id: [e for e in events if e["job"] == job.id] for job in (first, second, waiting, newest)}
    for job in (first, second, waiting, newest):
        assert [e["event"] for e in by_job[job.id]][0] == "queued"
        assert by_job[job.id][-1]["event"] == "finished" and by_job[job.id][-1]["session"] == job.session
    assert [e["event"] for e in by_job[first.id]] == ["queued", "started", "cancel", "finished"]
    cancel, end = by_job[first.id][2], by_job[first.id][3]
    assert cancel["reason"] == "a newer request in this session" and end["outcome"] == "cancelled"
    # against the model's block log: the blocks that ended between the cancel and the call's end
    after = [r for r in model.block_log if cancel["t"] < r.end <= end["t"]]
    assert end["blocks_after_cancel"] == len(after) <= 1 and end["blocks"] >= 2
    assert by_job[second.id][-1] | {"t": 0} == {"t": 0, "event": "finished", "session": "trace-a", "job": second.id,
                                                "key": repr(("walk", 1)), "outcome": "done", "blocks": 4,
                                                "blocks_after_cancel": 0}
    assert by_job[waiting.id][-1]["outcome"] == "cancelled" and by_job[waiting.id][-1]["blocks"] == 0
    times = [e["t"] for e in events]
    assert times == sorted(times)  # appended in event order

    summary = trace_summary(events)
    # a superseded call finishing its block and its successor waiting: two at once, one of them not cancelled
    assert summary["sessions"]["trace-a"] == {"calls": 2, "most_at_once": 2, "most_live_at_once": 1}
    assert summary["sessions"]["trace-b"] == {"calls": 2, "most_at_once": 2, "most_live_at_once": 1}
    assert sorted(s["blocks_after_cancel"] for s in summary["superseded"]) == [0, end["blocks_after_cancel"]]
    assert summary["most_running_at_once"] == 1  # one inference thread


def test_no_trace_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(watched.TRACE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    _start("trace-off", _model(), 0).future.result(timeout=10)
    assert list(tmp_path.iterdir()) == []
