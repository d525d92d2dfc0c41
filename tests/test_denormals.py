import subprocess
import sys

import pytest

# Prints, for each place a computation can run, how many of 2^20 denormal floats (1e-40) survive `x * 1`:
# the calling thread, torch's intra-op workers (2 threads, one parallel multiply), a Python thread started
# afterwards, and the app's inference thread (ui/services/inference.py), which flushes on its own.
PROBE = """
import sys, threading, torch
if sys.argv[1] == "flush":
    from explorer.denormals import flush_denormals
    applied = flush_denormals()
else:  # only whether this CPU can flush, with the flag left off
    applied = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
torch.set_num_threads(2)
def survivors():
    return int((torch.full((1 << 20,), 1e-40) * 1.0).count_nonzero())
found = {"caller": survivors()}
worker = threading.Thread(target=lambda: found.update(thread=survivors()))
worker.start(); worker.join()
from ui.services import inference
found["inference"] = inference.run(survivors)
print(applied, found["caller"], found["thread"], found["inference"])
"""


def probe(mode: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout.split()


def test_flushed_denormals_are_zero_in_every_thread_that_computes():
    applied, caller, thread, inference = probe("flush")
    if applied != "True":
        pytest.skip("this CPU cannot flush denormals (torch.set_flush_denormal returned False)")
    assert (caller, thread, inference) == ("0", "0", "0")


def test_without_the_flag_denormals_survive_but_the_inference_thread_still_flushes():
    applied, caller, thread, inference = probe("plain")
    assert (caller, thread) == (str(1 << 20), str(1 << 20))  # the control: the probe can see denormals
    assert inference == ("0" if applied == "True" else str(1 << 20))
