"""Every benchmark in bench/ runs: `python -m bench.NAME --smoke` (tiny sizes, one repetition, the real code path)
exits 0 and prints its figures. The runs are subprocesses from the checkout's top folder, one test each, the
longest first, so that pytest-xdist spreads them over its workers and both end together. Each run's time is printed
(pytest -rP shows it), not asserted: on a loaded machine a bound that means anything would flake."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# modules of bench/ that are not benchmarks: shared options, and the reference page app_latency serves
HELPERS = {"cpu_options", "smoke", "bare_streamlit_page"}
TIMEOUT_S = 600
# wall seconds of each smoke run in the suite (its warm server pool), one at a time, on the quiet 2-core machine
# (docs/performance.md#test-suite-time): only the order of the tests comes from these (longest first); a benchmark
# not listed counts as long if it drives a browser
SMOKE_S = {"app_latency": 11.3, "bench_sessions": 10.8, "bench_soak": 9.3, "bench_load": 7.5, "bench_map_page": 6.6,
           "bench_ddp": 5.5, "bench_live_drag": 5.3, "bench_burst": 4.6, "bench_big_map": 4.5, "bench_umap_walk": 4.3,
           "bench_draw": 4.2, "bench_distill": 3.9, "bench_linear_fit": 3.5, "bench_precision": 3.4, "big_vae_pages":
           3.2, "bench_codebook": 3.0, "bench_memory_estimate": 3.0, "bench_disentanglement": 2.6, "bench_trainer":
           2.2, "bench_disent_parity": 2.0, "bench_pu": 1.9, "bench_code_grid": 1.8, "bench_scale": 1.8,
           "bench_onnx_decode": 1.5, "bench_encode": 1.0, "bench_fuzz": 1.0}


def benchmarks() -> list[str]:
    """Module names of the benchmarks in bench/ (every .py there but the helpers)."""
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in HELPERS)


def longest_first(names: list[str]) -> list[str]:
    """`names` ordered by their expected smoke time, longest first (SMOKE_S; a browser benchmark not listed: 15 s,
    any other: 6 s)."""
    def expected(name: str) -> float:
        return SMOKE_S.get(name, 15 if "playwright" in (BENCH / f"{name}.py").read_text() else 6)
    return sorted(names, key=lambda name: (-expected(name), name))


def test_every_benchmark_takes_smoke():
    missing = [name for name in benchmarks() if "add_smoke_option(" not in (BENCH / f"{name}.py").read_text()]
    assert not missing, f"benchmarks without --smoke (bench/smoke.py's add_smoke_option): {missing}"
    assert len(benchmarks()) >= 15


def _run(name: str, *args: str) -> tuple[str, int, float, str, float]:
    """(name, exit status, seconds, output, CPU seconds) of `python -m bench.NAME ARGS` in the checkout's top
    folder; CPU seconds: the run's and its children's that it waited for (not a browser's renderers, nor a server the
    warm pool forked: that one is the pool's child)."""
    # its own temporary folder, removed after: the benchmarks leave theirs (a short path: Chromium's socket
    # path under it must stay under 108 characters, which pytest's tmp_path can exceed)
    own = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    env = dict(os.environ, TMPDIR=str(own), OMP_NUM_THREADS="1")
    t0, cpu0 = time.perf_counter(), _children_cpu()
    try:
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}", *args], cwd=str(ROOT), env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out = -1, f"timed out after {TIMEOUT_S} s\n{exc.stdout or ''}{exc.stderr or ''}"
    finally:
        shutil.rmtree(own, ignore_errors=True)
    return name, code, time.perf_counter() - t0, out, _children_cpu() - cpu0


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@pytest.mark.slow
@pytest.mark.parametrize("name", longest_first(benchmarks()))
def test_every_benchmark_runs_in_smoke_mode(name, component_assets):
    """One test per benchmark, longest first, so that pytest-xdist spreads them over its workers."""
    _, code, seconds, out, cpu = _run(name, "--smoke")
    print(f"bench.{name} --smoke: exit {code}, {seconds:.1f} s, {cpu:.1f} CPU s; load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    assert code == 0, f"bench.{name}:\n{out[-3000:]}"
    said = out.split("smoke run:", 1)
    assert len(said) == 2, f"bench.{name} did not announce its smoke sizes:\n{out[-2000:]}"
    figures = [ln for ln in said[1].splitlines()[1:] if re.search(r"\d", ln)]
    assert figures, f"bench.{name} printed no figures after its smoke sizes:\n{out[-2000:]}"


@pytest.mark.slow
def test_no_input_lost_in_bursts(component_assets):
    """Three sessions press keys on the Latent walk's first slider at once, 30 presses each in 2 bursts (one each
    way), against a server decoding the walk: every session ends at the value its presses lead to, in its slider,
    its URL and its image, and no burst leaves a stale URL (bench_burst --check)."""
    _, code, seconds, out, cpu = _run("bench_burst", "--sessions", "3", "--presses", "30", "--bursts", "2", "--check")
    print(f"bench.bench_burst 3 x 30 in 2 bursts: exit {code}, {seconds:.1f} s, {cpu:.1f} CPU s")
    assert code == 0, out[-3000:]
    assert "lost sessions 0 of 3" in out, out[-3000:]


def test_burst_counts_a_session_lost_by_its_final_value():
    """bench_burst's lost: a session whose slider, URL or image ends elsewhere than its own key presses lead."""
    from bench.bench_burst import BurstResult, SessionEnd, pressed_value

    keys = ["ArrowRight"] * 5 + ["ArrowLeft"] * 2
    assert pressed_value(0.0, keys, -4.0, 4.0, 0.1) == pytest.approx(0.3)
    assert pressed_value(3.9, keys, -4.0, 4.0, 0.1) == pytest.approx(3.8)  # clamped at 4, then two steps down
    good = SessionEnd(0.3, 0.3, 0.3, "h", "/media/a.png", "/media/a.png")
    stale_link = SessionEnd(0.3, 0.3, 0.2, "h", "/media/a.png", "/media/a.png")
    old_image = SessionEnd(0.3, 0.3, 0.3, "h", "/media/b.png", "/media/a.png")
    assert good.problems() == [] and stale_link.problems() == ["URL 0.2"]
    assert old_image.problems() == ["image /media/b.png (at the URL: /media/a.png)"]
    result = BurstResult([12.0, None], [{"stale": True}, {"stale": False}], [good, stale_link, old_image])
    assert (result.lost, result.stale, result.unpainted) == (2, 1, 1)
