"""`--smoke`, which every benchmark takes: tiny sizes and one repetition, so that a run takes seconds, still goes
through the real code path and prints its figures (which then mean nothing). tests/test_benches.py runs them all. A
component demo's smoke run reads its ONNX exports from the cache its environment names (the test session's shared
one), where a full run exports into a new folder so that its first visit is a cold one."""

from __future__ import annotations

import argparse
import atexit
import gc

from tests.browser.driver import IDLE

SMOKE_PAUSE_MS = 50  # the longest fixed wait of a smoke run (pause)
_smoke_run = False  # set by apply_smoke / announce_smoke with --smoke: the benchmark's process is a smoke run


def add_smoke_option(ap: argparse.ArgumentParser) -> None:
    """Adds --smoke to a benchmark's parser."""
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, one repetition (seconds): checks that the benchmark runs; its figures mean nothing")


def _start_smoke() -> None:
    """Marks this process a smoke run (pause), and at its exit calls gc.freeze(): the interpreter's teardown then
    skips collecting the objects alive now (torch's thousands of modules and functions), about 0.4 s of CPU at the
    end of a run that imported torch."""
    global _smoke_run
    _smoke_run = True
    atexit.register(gc.freeze)  # atexit runs before the modules are torn down


def pause(ms: float) -> float:
    """A fixed wait's length in ms: `ms`, or at most SMOKE_PAUSE_MS in a smoke run. Such a wait lets a page catch
    up before a figure is read (a frame painted, a rerun begun); a smoke run's figures mean nothing, and its fixed
    waits were most of its time. A wait for a condition (a selector, the idle script) is not shortened."""
    return min(ms, SMOKE_PAUSE_MS) if _smoke_run else ms


def apply_smoke(args: argparse.Namespace, **sizes: object) -> argparse.Namespace:
    """With --smoke, sets each of `sizes` (argument name -> smoke value) on `args` and says so; returns `args`."""
    if args.smoke:
        for name, value in sizes.items():
            setattr(args, name, value)
        _start_smoke()
        print("smoke run:", ", ".join(f"{k}={v}" for k, v in sizes.items()), flush=True)
    return args


def announce_smoke(args: argparse.Namespace, **sizes: object) -> None:
    """With --smoke, says which sizes the benchmark's own smoke mode uses (for a benchmark that sets them itself)."""
    if args.smoke:
        _start_smoke()
        print("smoke run:", ", ".join(f"{k}={v}" for k, v in sizes.items()), flush=True)


def settle(page, ms: int) -> None:
    """Let a Playwright page settle: wait `ms`; in a smoke run, wait until Streamlit's script is idle, then at most
    0.3 s (a fixed wait sized for a loaded machine is most of a smoke run's time otherwise)."""
    if _smoke_run:
        page.wait_for_selector(IDLE, state="attached", timeout=180_000)
        ms = min(ms, 300)
    page.wait_for_timeout(ms)
