"""Build a folder once for a whole test session, however many pytest-xdist workers ask for it.

The first process to ask builds it beside its final place, under a lock (explorer.files.exclusive_lock), and
renames it into place; the others wait for the lock and then find it whole. For set-ups that cost seconds of CPU
and that every worker would otherwise make again (tests/conftest.py's `session_shared` gives the shared folder).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from explorer.files import exclusive_lock


def built_once(folder: Path, build: Callable[[Path], object]) -> Path:
    """`folder`, made by `build(fresh_empty_folder)` on the first call of any process, and returned as it is
    by every later one. A build that raises leaves nothing at `folder` (the next caller tries again)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder.parent / f"{folder.name}.lock"):
        if not folder.is_dir():
            fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
            build(fresh)
            fresh.rename(folder)
    return folder


__all__ = ["built_once"]
