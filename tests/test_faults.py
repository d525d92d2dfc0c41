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

from tests.support import fuzz_inputs as F
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


def test_killed_map_worker_is_reported_and_leaves_no_cache_file(tmp_path, map_workers):
    from explorer.analysis import map_jobs as mapjobs

    started = map_workers
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
    assert again is not job and not again.done  # a failed job is restarted on the next request (the page's rerun)
    again.cancel()  # leave no job running for the next test in this process (a new worker's t-SNE took 10-30 s)
    while not again.done and time.time() < deadline + 60:
        time.sleep(0.05)
    assert again.cancelled and again.error


# -- a read-only model folder ----------------------------------------------------------------------------------
@pytest.fixture
def read_only_model(tmp_path):
    """A tiny checkpoint in a folder nothing can write to. As a normal user: chmod a-w. As root (who ignores
    permission bits, as in this project's CI containers): a read-only bind mount of it (EROFS for everyone);
    skipped when root may not mount."""
    source = tmp_path / "model"
    F.make_tiny_checkpoint(source)
    if os.geteuid() != 0:
        for path in (source, *source.iterdir()):
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield source
        source.chmod(0o755)
        return
    target = tmp_path / "read-only-model"
    target.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root, and a read-only bind mount is not allowed here: {mounted.stderr.strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"running as root, and a bind mount cannot be made read-only here: {remount.stderr.strip()}")
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_caches_of_a_read_only_model_go_to_the_cache_folder(read_only_model, tmp_path):
    from explorer.analysis.maps import compute_map
    from explorer.cache import model_cache_dir, weights_digest
    from explorer.cli.evaluate import main as evaluate
    from explorer.files import is_writable_folder
    from explorer.cache import write_entry
    from explorer.onnx.export import exported_decoder
    from explorer.analysis.map_jobs import cache_path, map_key

    model_folder, cache = read_only_model, tmp_path / "cache"
    with pytest.raises(OSError):
        (model_folder / "probe").write_bytes(b"x")  # really read-only, for this user too
    assert not is_writable_folder(model_folder / "eval")
    before = sorted(p.relative_to(model_folder) for p in model_folder.rglob("*"))
    digest = weights_digest(model_folder)
    assert evaluate([str(model_folder), "--dataset", "digits", "--cache-dir", str(cache), "--no-progress",
                     "--iwae-k", "2", "--maps", "pca", "--limit", "40"]) == 0  # an evaluation
    model = from_pretrained(model_folder)
    folder = model_cache_dir(digest, cache)
    onnx = exported_decoder(model, folder.name, folder.parent, exporters=("torchscript",))  # as ui/shared/walk_panel.py
    means = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    key = map_key(digest, "digits", "pca", {}, 0, means)  # a map entry, filed as the map jobs file them
    write_entry(cache_path(cache, key), {"coords": compute_map(means, "pca").astype(np.float32)}, {})
    assert sorted(p.relative_to(model_folder) for p in model_folder.rglob("*")) == before  # nothing written there
    assert (folder / "eval" / "digits" / "metrics.json").is_file(), sorted(cache.rglob("*"))
    assert onnx.path.is_file() and onnx.path.is_relative_to(cache)
    assert list((folder / "maps").glob("pca-*"))
