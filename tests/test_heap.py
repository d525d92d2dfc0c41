import os
import subprocess
import sys

import pytest

from explorer.heap import retain_freed_memory

# Allocates four 4 MB tensors and frees them together, 20 times after a warm-up, as a training step does with
# its activations, and prints the page faults that cost. glibc alone trims the freed 16 MB each time.
PROBE = """
import resource, sys, torch
from explorer.heap import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "retain" else None
def step():
    return [torch.ones(1 << 20) for _ in range(4)]
for _ in range(10):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def fault_count(mode: str) -> tuple[str, int]:
    # glibc's starting mmap threshold (128 KB), made static: left dynamic, whether it adapts before the probe
    # depends on the order of earlier allocations, and the control below would flake
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, env=env).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_retained_heap_reuses_pages_instead_of_faulting():
    applied, faults = fault_count("retain")
    assert applied == "True"
    assert faults < 100  # 20 x 16 MB of fresh pages would fault about 80,000 times


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_the_probe_faults_without_it():  # the probe above measures something
    assert fault_count("plain")[1] > 10_000


def test_other_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert retain_freed_memory() is False


RELEASE_PROBE = """
import re, sys
import numpy as np
from explorer.heap import release_free_memory
def rss_mb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
blocks = [np.ones(8192) for _ in range(25_000)]  # 200 MB in 64 KB blocks: on the heap, under the mmap threshold
keep = np.ones(8192)  # allocated last: the heap's top stays in use, so glibc cannot trim on its own
del blocks
held = rss_mb()
print(release_free_memory(), held - rss_mb())
"""


def test_release_free_memory_hands_freed_heap_memory_back():
    if not sys.platform.startswith("linux"):  # glibc's malloc_trim: elsewhere it does nothing, and says so
        from explorer.heap import release_free_memory

        assert release_free_memory() is False
        return
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run([sys.executable, "-c", RELEASE_PROBE], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    assert out[0] == "True" and float(out[1]) > 150  # most of the freed 200 MB leaves the process
