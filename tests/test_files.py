"""explorer.files: atomic writes leave the old content or the new, and never a temporary file behind."""

import json
import os
import stat

import numpy as np
import pytest
import torch

from explorer import files


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_bytes_and_json(tmp_path):
    path = files.atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # shared, not mkstemp's 0600
    files.atomic_write_json(tmp_path / "m.json", {"x": [1, 2]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": [1, 2]}
    assert (tmp_path / "m.json").read_text().endswith("\n")
    assert _leftovers(tmp_path) == []


def test_failed_replace_keeps_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    files.atomic_write_json(path, {"v": 1})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert _leftovers(tmp_path) == []


def test_writer_failing_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / "weights.safetensors"
    files.atomic_save_safetensors({"w": np.ones(3, np.float32)}, path)
    before = path.read_bytes()

    def half_then_fail(tmp):
        tmp.write_bytes(b"torn")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        files.atomic_write_with(path, half_then_fail)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_safetensors_from_numpy_and_torch_with_metadata(tmp_path):
    from safetensors import safe_open

    files.atomic_save_safetensors({"a": np.arange(4, dtype=np.int64)}, tmp_path / "n.safetensors", {"k": "v"})
    files.atomic_save_safetensors({"b": torch.ones(2, 3).t()}, tmp_path / "t.safetensors", {"format": "pt"})  # not contiguous
    with safe_open(str(tmp_path / "n.safetensors"), "np") as fh:
        assert fh.metadata() == {"k": "v"} and fh.get_tensor("a").tolist() == [0, 1, 2, 3]
    with safe_open(str(tmp_path / "t.safetensors"), "pt") as fh:
        assert fh.get_tensor("b").shape == (3, 2) and fh.metadata() == {"format": "pt"}


def test_folder_swap_replaces_a_whole_folder(tmp_path):
    target = tmp_path / "eval"
    target.mkdir()
    (target / "old.txt").write_text("old")
    fresh = files.fresh_folder_beside(target)
    (fresh / "new.txt").write_text("new")
    files.atomic_folder_swap(fresh, target)
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]  # neither the temporary nor the old folder
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_is_writable_folder(tmp_path, monkeypatch):
    assert files.is_writable_folder(tmp_path / "not" / "yet")
    monkeypatch.setattr(files.os, "access", lambda path, mode: False)
    assert not files.is_writable_folder(tmp_path)


def test_exclusive_lock_waits_for_its_holder(tmp_path):
    """A second holder (another open file, as another process has) waits until the first lets go."""
    import threading
    import time

    path = tmp_path / "part.lock"
    order: list[str] = []
    taken = threading.Event()

    def first() -> None:
        with files.exclusive_lock(path) as held:
            assert held
            taken.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    assert taken.wait(10)
    with files.exclusive_lock(path) as held:
        order.append("second in")
    thread.join()
    assert held and order == ["first done", "second in"]


def test_exclusive_lock_in_a_read_only_folder_runs_unlocked(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("builtins.open", refuse)
    with files.exclusive_lock(tmp_path / "part.lock") as held:
        assert held is False
