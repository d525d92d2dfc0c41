"""Background jobs in a worker process (explorer.runtime.workers): progress lines, a clean run, a failure, a kill,
a cancel, and the table's one job per key with its restart."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.runtime.workers import Job, JobCancelled, JobTable, run_worker, start_worker


def test_job_reads_the_workers_progress_lines():
    job = Job("k", "umap", 10)
    job.report("progress 0.4200 optimising the layout, epoch 100 of 500\n")
    assert job.progress() == pytest.approx(0.42) and job.stage == "optimising the layout, epoch 100 of 500"
    job.report("a stray line from a library")  # ignored
    job.report("progress not-a-number x")
    assert job.progress() == pytest.approx(0.42)
    job.finished = job.started
    assert job.progress() == 1.0


def test_run_worker_feeds_progress_and_raises_the_last_stderr_line(tmp_path):
    job = Job("k", "test", 1)
    code = ("from explorer.runtime.workers import report\nimport sys\nreport(0.5, 'half way')\n"
            "print('noise', file=sys.stderr)\nprint('ValueError: bad input', file=sys.stderr)\nsys.exit(3)")
    with pytest.raises(RuntimeError, match="^ValueError: bad input$"):
        run_worker(job, [sys.executable, "-c", code], tmp_path)
    assert job.fraction == 0.5 and job.stage == "half way" and job.returncode == 3 and job.killed_by is None
    killed = Job("k", "test", 1)
    with pytest.raises(RuntimeError, match="worker exited with -9"):
        run_worker(killed, [sys.executable, "-c", f"import os; os.kill(os.getpid(), {int(signal.SIGKILL)})"], tmp_path)
    assert killed.killed_by == signal.SIGKILL


def test_start_worker_writes_inputs_runs_the_module_and_collects(tmp_path):
    """json.tool as the worker: its input written into the job's temporary folder, its output read back."""
    out = tmp_path / "out.json"
    seen: dict[str, object] = {}

    def inputs(tmp: Path) -> list[str]:
        (tmp / "in.json").write_text('{"b": [1, 2]}')
        return [str(tmp / "in.json"), str(out)]

    def collect() -> None:
        seen["result"] = json.loads(out.read_text())

    job = Job("k", "json", 1)
    start_worker(job, "json.tool", inputs, collect=collect, name="test-json").join(timeout=30)
    assert job.done and job.error is None and job.returncode == 0 and seen["result"] == {"b": [1, 2]}
    failed = Job("k2", "json", 1)
    (tmp_path / "bad.json").write_text("not json")
    start_worker(failed, "json.tool", [str(tmp_path / "bad.json")], collect=collect, name="test-bad").join(timeout=30)
    assert failed.done and failed.error.startswith("RuntimeError: Expecting value") and failed.returncode == 1


def test_a_table_keeps_a_failed_job_until_restart():
    table = JobTable()
    running = table.jobs["run"] = Job("run", "x", 1)
    failed = table.jobs["fail"] = Job("fail", "x", 1, finished=1.0, error="RuntimeError: boom")
    table.jobs["ok"] = Job("ok", "x", 1, finished=1.0)
    assert table.peek("run") is running and table.peek("none") is None
    assert not table.restart("run") and not table.restart("ok") and not table.restart("none")
    assert table.peek("fail") is failed and table.restart("fail") and table.peek("fail") is None


def test_cancel_terminates_the_worker_and_a_job_cancelled_early_never_starts(tmp_path):
    """A superseded job (Job.cancel): its running worker is terminated and run_worker raises JobCancelled; a job
    cancelled before its worker started never starts one, ends with error "JobCancelled: superseded" and collects
    nothing."""
    sleeper = Job("k", "sleep", 1)
    code = "from explorer.runtime.workers import report\nimport time\nreport(0.1, 'sleeping')\ntime.sleep(60)"
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_worker(sleeper, [sys.executable, "-c", code], tmp_path)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while sleeper.stage != "sleeping" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sleeper.stage == "sleeping" and sleeper.proc is not None
    sleeper.cancel()
    thread.join(timeout=30)
    assert not thread.is_alive() and sleeper.returncode == -signal.SIGTERM and sleeper.proc is None
    assert len(raised) == 1 and isinstance(raised[0], JobCancelled)
    collected = []
    early = Job("k2", "json", 1)
    early.cancel()
    start_worker(early, "json.tool", [str(tmp_path / "none.json")], collect=lambda: collected.append(1),
                 name="test-early").join(timeout=30)
    assert early.done and early.error == "JobCancelled: superseded" and early.returncode is None and not collected
