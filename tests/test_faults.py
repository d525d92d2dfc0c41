"""Faults: a second train.py run into the same --out, a full disk while a checkpoint is written, the map worker
killed mid-job."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import fuzz_inputs as F
from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.training import LOCK_NAME, RunLockedError, lock_run


def test_second_run_into_the_same_out_is_refused_and_a_dead_holder_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from explorer.training import lock_run; "
                               "h = lock_run(sys.argv[1]); print('locked', flush=True); time.sleep(60)", str(out)],
                              cwd=str(Path(__file__).resolve().parents[1]), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"PID {holder.pid}"):
            lock_run(out)
        from explorer.cli.train import main

        code = main(["--model", "mlp", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--maps", "none",
                     "--iwae-k", "0", "--no-progress", "--no-tensorboard"])
        assert code == 2 and not (out / "checkpoint").exists()
    finally:
        holder.send_signal(signal.SIGKILL)  # a crashed run: flock dies with the process
        holder.wait()
    lock = lock_run(out)  # taken at once, no stale lock
    assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
    lock.close()


def test_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    F.make_tiny_checkpoint(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    model = from_pretrained(folder)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    import builtins

    real_open = builtins.open

    class FullDisk:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            if self.written + len(data) > 64:  # the first part lands, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)

    def full_open(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        return FullDisk(fh) if "w" in mode and str(file).startswith(str(folder)) else fh

    import safetensors.torch

    def save_file(tensors, filename, metadata=None):  # safetensors writes in Rust: fail it after part is written
        with full_open(filename, "wb") as fh:
            fh.write(b"x" * 60)
            fh.write(b"x" * 60)

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    with pytest.raises(OSError, match="No space left"):
        save_pretrained(model, folder)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temporary file left, nothing torn
    from_pretrained(folder)


def test_killed_map_worker_is_reported_and_leaves_no_cache_file(tmp_path, monkeypatch):
    import ui.mapjobs as mapjobs

    started = []
    real_popen = subprocess.Popen

    def popen(cmd, *a, **k):
        proc = real_popen(cmd, *a, **k)
        started.append(proc)
        return proc

    monkeypatch.setattr(mapjobs.subprocess, "Popen", popen)
    means = np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32)
    key = mapjobs.map_key("0" * 16, "digits", "tsne", {"perplexity": 30.0}, 0, means)
    job = mapjobs.request_map(tmp_path, key, "tsne", means, {"perplexity": 30.0})
    deadline = time.time() + 60
    while not started and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    started[0].send_signal(signal.SIGKILL)
    while not job.done and time.time() < deadline:
        time.sleep(0.05)
    assert job.done and job.error and "-9" in job.error, job.error
    assert mapjobs.load_cached(tmp_path, key) is None
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not leftovers, leftovers  # no torn or temporary file in the cache
    again = mapjobs.request_map(tmp_path, key, "tsne", means[:200], {"perplexity": 30.0})
    assert again is not job  # a failed job is restarted on the next request (the page's rerun)
