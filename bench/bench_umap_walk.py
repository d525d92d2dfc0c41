"""UMAP of 100,000 codes in the app's background map job, and the walk's slider latency meanwhile.

    python -m bench.bench_umap_walk                     # 100,000 codes, 40 moves per phase, two UMAP jobs
    python -m bench.bench_umap_walk --items 20000 --n 20 --jobs 1

Starts the dashboard (app.py of this checkout, `--live off` so that the walk decodes on the server: the path a
background job can slow down) and headless Chromium, then:
  1. idle: the Latent walk's first slider, n key presses, timed in the page's clock (the method of
     /work/shared/bench/slider_latency_probe.py, shared with bench/app_latency.py);
  2. busy: a UMAP job of --items codes through explorer.analysis.map_jobs.request_map, the app's own mechanism (a
     daemon thread runs `python -m explorer.analysis.map_worker`, which lowers its own priority with os.nice); the
     slider is timed in blocks of n presses for as long as the job runs. The job's wall time and its stages (umap-learn import and
     numba compilation, the neighbour graph, the layout epochs) are logged;
  3. --jobs 2: a second job (another seed, so nothing is cached) in a fresh worker process; umap-learn's numba
     functions are then loaded from numba's on-disk cache where they are cached, so its time is the warm figure;
  4. idle again after the jobs, so that a drifting machine shows.
The request is made from this driver process rather than from a page: the map page offers only the shipped
data sets (at most a few thousand items), and the work happens in the same worker process either way.
Target: slider p95 during UMAP <= 1.5 x idle p95.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.app_latency import ROOT, focus_walk_slider, open_walk, p95, slider_turns, summary
from bench.bench_scale import codes
from bench.smoke import add_smoke_option, apply_smoke, pause
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS as ARGS
from tests.support.serve import spawn_streamlit, stop
from ui.components.devserver import wait_healthy


def load_average() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _workers(parent: int) -> list[tuple[int, int]]:
    """(pid, niceness) of the running `explorer.analysis.map_worker` processes whose parent is `parent` (read from
    /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if b"explorer.analysis.map_worker" in cmd and int(stat[1]) == parent:
            out.append((int(entry.name), int(stat[16])))  # field 19 of /proc/PID/stat: nice
    return out


def worker_niceness(parent: int) -> list[int]:
    return [nice for _, nice in _workers(parent)]


def worker_pids(parent: int) -> list[int]:
    return [pid for pid, _ in _workers(parent)]


class StageLog(threading.Thread):
    """Polls a job's stage every 0.1 s and keeps (seconds since the job started, stage) at each change."""

    def __init__(self, job) -> None:
        super().__init__(daemon=True)
        self.job, self.stages = job, []

    def run(self) -> None:
        while not self.job.done:
            stage = self.job.stage.split(" epoch")[0]
            if not self.stages or self.stages[-1][1] != stage:
                self.stages.append((self.job.elapsed, stage))
            time.sleep(0.1)


def run_job(walk, items: int, seed: int, cache_dir: Path, n: int, max_blocks: int,
            job_timeout: float, idle_p95: float) -> tuple[float, list[float], list, bool]:
    """Start one UMAP job and time slider blocks of n presses while it runs; a job still running after
    job_timeout seconds is stopped (its worker process ended). Returns (wall s, latencies, stages, finished)."""
    from explorer.analysis import map_jobs as mapjobs

    means = codes(items, 16, seed=seed)
    params = dict(mapjobs.METHOD_PARAMS["umap"])
    key = mapjobs.map_key("bench-umap-walk", f"codes-{items}", "umap", params, seed, means)
    job = mapjobs.request_map(cache_dir, key, "umap", means, params, seed=seed)
    log = StageLog(job)
    log.start()
    nice: list[int] = []
    for _ in range(50):  # the worker's own os.nice happens first thing after it starts
        nice = worker_niceness(os.getpid())
        if nice or job.done:
            break
        time.sleep(0.1)
    time.sleep(pause(500) / 1000)
    nice = worker_niceness(os.getpid()) or nice
    print(f"UMAP job (seed {seed}) started; worker niceness {nice} (this driver and the app: {os.nice(0)})",
          flush=True)
    busy: list[float] = []
    blocks = 0
    while not job.done and blocks < max_blocks:
        busy += slider_turns([walk], n)[0]
        blocks += 1
        print(f"  block {blocks}: {job.elapsed:6.1f} s into the job, stage {job.stage!r}; "
              f"block p95 {p95(busy[-n:]):.0f} ms", flush=True)
    while not job.done and job.elapsed < job_timeout:
        time.sleep(0.2)
    if not job.done:
        stage = job.stage
        for pid in worker_pids(os.getpid()):
            os.kill(pid, signal.SIGTERM)
        log.join()
        print(f"UMAP of {items:,} codes (seed {seed}) still at {stage!r} after {job.elapsed:.0f} s: stopped", flush=True)
        return job.elapsed, busy, log.stages, False
    log.join()
    if job.error:
        raise SystemExit(f"UMAP job failed: {job.error}")
    stages = ", ".join(f"{stage} from {t:.1f} s" for t, stage in log.stages)
    print(f"UMAP of {items:,} x 16 codes in the background (seed {seed}): {job.elapsed:.1f} s wall; {stages}",
          flush=True)
    if busy:
        print(summary("  slider during it", busy) + f"; p95 / idle p95 {p95(busy) / idle_p95:.2f}", flush=True)
    return job.elapsed, busy, log.stages, True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000, help="codes in the UMAP (16-D)")
    ap.add_argument("--n", type=int, default=40, help="slider presses per idle phase and per busy block")
    ap.add_argument("--jobs", type=int, choices=[0, 1, 2], default=2, help="2: a second job, numba's cache warm")
    ap.add_argument("--idle-blocks", type=int, default=0,
                    help="control: this many blocks of n presses with no job, before the jobs")
    ap.add_argument("--max-blocks", type=int, default=200, help="busy blocks per job at most")
    ap.add_argument("--job-timeout", type=float, default=1800, help="stop a job still running after this (s)")
    ap.add_argument("--model", default="conv-mnist5k")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    add_smoke_option(ap)
    # job_timeout=0: the job is stopped after its one block of presses (umap-learn's import and numba's compilation
    # alone take 20 s, which a smoke run need not wait for)
    a = apply_smoke(ap.parse_args(), items=300, n=4, jobs=1, max_blocks=1, job_timeout=0)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="umap-walk-"))
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_DEFAULT_MODEL=a.model)
    port = free_port()
    print(f"load average before: {load_average()}", flush=True)
    app = None
    try:
        # the server starts while Chromium does
        app = spawn_streamlit(ROOT / "app.py", port, tmp / "app.log", env=env, app_args=["--live", "off"])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
            try:
                wait_healthy(app, port, tmp / "app.log", timeout=120)
            except RuntimeError as exc:
                raise SystemExit(f"app.py: {exc}") from None
            walk = open_walk(browser, f"http://127.0.0.1:{port}", a.model)
            focus_walk_slider(walk)
            if not a.smoke:
                slider_turns([walk], 6)  # warm-up presses, not counted
            idle = slider_turns([walk], a.n)[0]
            print(summary("idle walk slider (server path)", idle), flush=True)
            for block in range(a.idle_blocks):  # the same presses with nothing in the background
                lat = slider_turns([walk], a.n)[0]
                print(f"  idle block {block + 1}: {summary('', lat)}; load average {load_average()}", flush=True)
            runs = [run_job(walk, a.items, seed, tmp / "cache", a.n, a.max_blocks, a.job_timeout,
                            p95(idle))
                    for seed in range(a.jobs)]
            idle_after = slider_turns([walk], a.n)[0]
            print(summary("idle walk slider, after the jobs", idle_after), flush=True)
            browser.close()
    finally:
        stop(app)
    print(f"load average after: {load_average()}", flush=True)
    print("\nsummary:")
    print(summary("idle (before)", idle))
    print(summary("idle (after)", idle_after))
    for i, (seconds, busy, _, finished) in enumerate(runs):
        name = "job 1" if i == 0 else "job 2, numba's cache warm from job 1"
        ratio = p95(busy) / p95(idle) if busy else float("nan")
        ok = "PASS" if busy and ratio <= 1.5 else "MISS"
        print(f"UMAP {a.items:,} codes ({name}): {seconds:.1f} s{'' if finished else ' and NOT finished'}; " + (summary("slider during it", busy) if busy else
              "no presses (job ended first)") + f"; p95 ratio to idle before {ratio:.2f} "
              f"(to idle after {p95(busy) / p95(idle_after) if busy else float('nan'):.2f}) [{ok} <= 1.5]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
