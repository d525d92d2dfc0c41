"""Atomic file writes: readers see the old content or the new, never a torn file or a half-made folder.

Every writer in the project goes through here: checkpoints, metrics, cards, analysis arrays, cached maps and
evaluations. A file is written to a temporary name in its own folder (same file system, so `os.replace` is
atomic), flushed to disk and then renamed over the target; on any error the temporary file is removed and the
previous file stays as it was. Files are made 0644 (mkstemp makes 0600 files; checkpoints are meant to be shared).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FILE_MODE = 0o644


@contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary file name in path's folder, removed again unless it was renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_with(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp) to produce the file under a temporary name, then rename it over path. Returns path.

    For writers that only take a file name (safetensors, torchvision's save_image, torch.save)."""
    path = Path(path)
    with _temporary_beside(path) as tmp:
        write(tmp)
        with open(tmp, "rb+") as fh:  # the data is on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes to path atomically. Returns path."""
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: str | Path, payload: Any) -> Path:
    """Write payload as indented JSON (and a final newline) atomically. Returns path."""
    return atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def is_torch_tensor(value: Any) -> bool:
    """Without importing torch: a torch tensor can only exist once torch is imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _as_numpy(value: Any):
    import numpy as np

    if is_torch_tensor(value):
        value = value.detach().to("cpu").numpy()
    return np.ascontiguousarray(value)


def atomic_save_safetensors(tensors: Mapping[str, Any], path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write a dict of arrays (all numpy, or all torch tensors: kept as given, made contiguous on the CPU) as
    safetensors with optional string metadata, atomically. Returns path."""
    values = list(tensors.values())
    meta = {str(k): str(v) for k, v in (metadata or {}).items()} or None
    if values and all(is_torch_tensor(v) for v in values):
        from safetensors.torch import save_file as save_torch

        state = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        return atomic_write_with(path, lambda tmp: save_torch(state, str(tmp), metadata=meta))
    from safetensors.numpy import save_file as save_numpy

    arrays = {k: _as_numpy(v) for k, v in tensors.items()}
    return atomic_write_with(path, lambda tmp: save_numpy(arrays, str(tmp), metadata=meta))


def fresh_folder_beside(target: str | Path) -> Path:
    """An empty temporary folder next to target (same file system), to fill and then `atomic_folder_swap` in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))


def atomic_folder_swap(filled: str | Path, target: str | Path, old: str | Path | None = None) -> Path:
    """Put the finished folder `filled` in place of `target` (which may not exist yet). Returns target.

    Two renames, target -> old and filled -> target; between them a reader finds the previous folder at
    `old` (default: a hidden `.NAME.old` beside target), which is removed once the new one is in place.
    The folder's files are made 0755 / readable like every other written file."""
    filled, target = Path(filled), Path(target)
    old = Path(old) if old is not None else target.parent / f".{target.name}.old"
    os.chmod(filled, 0o755)  # mkdtemp makes 0700 folders
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    filled.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def is_writable_folder(folder: str | Path) -> bool:
    """True when new files can be made in folder, or in the nearest existing folder above it."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[bool]:
    """Hold an exclusive fcntl.flock on the file `path` (made if missing) for the block, waiting while another
    process holds it: processes that share a folder (several app servers on one cache) then make a file once, and
    none removes a file that another is making. Yields True when held; where no lock can be taken (a read-only
    folder, a platform without fcntl) the block runs unlocked and it yields False. The kernel drops the lock when
    its process ends, so a killed holder never leaves a stale one."""
    try:
        import fcntl

        handle = open(path, "a")
    except (ImportError, OSError):
        yield False
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield True  # closing the file releases the lock


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of one file's bytes, read in 1 MiB blocks (explorer.cache.file_digest memoises it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
