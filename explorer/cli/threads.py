"""The CPU thread count of a training run: torch's default (one per core) on a quiet machine, fewer when others
already keep the cores busy, where extra threads only wait on each other (a 1-epoch conv run on mnist5k: see
docs/training.md, "Threads")."""

from __future__ import annotations

import math
import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def current_load() -> float | None:
    """The 1-minute load average (processes running or waiting for a core); None where the OS has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def idle_cores(cores: int, load: float | None) -> int:
    """Cores that no other process keeps busy: cores minus the load, rounded (at least 1); all the cores when the
    load is unknown."""
    if load is None:
        return cores
    return max(1, min(cores, cores - math.floor(load + 0.5)))


def default_threads(torch_default: int, load: float | None, cores: int | None = None) -> tuple[int, str | None]:
    """(threads, a note for the user or None): torch's default, lowered to the idle cores when the load average says
    the machine is busy."""
    cores = usable_cores() if cores is None else cores
    idle = idle_cores(cores, load)
    if idle >= torch_default:
        return torch_default, None
    shown = "" if load is None else f"load {load:.1f} on "
    return idle, (f"note: the machine is busy ({shown}{cores} cores): training on {idle} CPU thread"
                  f"{'s' if idle > 1 else ''} instead of {torch_default} (--threads N sets it)")
