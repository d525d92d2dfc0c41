"""Keep freed memory in the process heap, so that training on a CPU does not page-fault every step.

glibc hands big allocations (a few hundred KB and up, e.g. a (128, 4, 32, 32) float activation) to the kernel
with mmap and returns them on free; the next step's tensor of the same size then touches fresh pages, and the
kernel zero-fills each 4 KB page on a fault. A training step of the Pu model allocates about 16 MB this way,
4,000 page faults, 10 to 20% of its time on 2 cores. PyTorch's CPU tuning guide fixes this by preloading
jemalloc or tcmalloc; the same effect with glibc alone is three `mallopt` settings, made here at run time:
allocations stay on the heap, and the heap keeps up to `keep_bytes` of freed memory instead of trimming it.

The cost: the process's resident memory stays at its peak. Use it for training and benchmarks, not for
a long-running server. A server does the opposite after its big calls: `release_free_memory` hands what the heaps
keep back to the system (an SD-sized decode leaves 130-150 MB of freed memory in glibc's arenas, and the app's
resident memory otherwise grows page by page).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit systems


def _libc() -> ctypes.CDLL | None:
    """glibc on Linux, else None (macOS, Windows, musl: these settings do not apply)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return None


def retain_freed_memory(keep_bytes: int = 1 << 30, top_pad: int = 64 << 20) -> bool:
    """Serve allocations up to 32 MB from the heap and keep up to `keep_bytes` of freed heap memory.

    Returns True where the settings took effect (Linux with glibc); elsewhere (macOS, Windows, musl) it
    changes nothing and returns False.
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    keep = min(keep_bytes, 2**31 - 1)
    return all(mallopt(param, value) == 1 for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX), (M_TRIM_THRESHOLD, keep), (M_TOP_PAD, min(top_pad, keep))))


def release_free_memory() -> bool:
    """Return the freed memory every glibc arena keeps to the system (`malloc_trim(0)`: 50-500 ms after an
    SD-sized call, so only after calls that took longer than that). True where it ran (Linux with glibc)."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True
