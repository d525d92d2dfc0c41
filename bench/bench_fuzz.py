"""The long fuzz run: mutated uploads, checkpoint folders and train.py command lines, in parallel worker processes.

    python -m bench.bench_fuzz --cases 100000 --workers 2          # ~15 min on 2 cores
    python -m bench.bench_fuzz --cases 2000                        # a quick look

Cases are the ones the test suite draws (tests/support/fuzz_inputs.py), here by plain seeds 0, 1, 2, ... so any failure
is reproduced from its printed (kind, base, seed). Each worker process runs under a memory bound
(RLIMIT_AS: its size after imports + --memory-mb) and a per-case watchdog (SIGALRM, 10 s); a worker that dies
(a native crash, the memory bound) counts its chunk's cases as failures. Prints, per input kind: cases tried,
outcomes, failures (must be 0) and p50 / p99 / max time per case.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from bench.smoke import add_smoke_option, apply_smoke
from tests.support import fuzz_inputs as F

ROOT = Path(__file__).resolve().parent.parent


CHUNK = 250
SHARES = {"upload": 0.8, "checkpoint": 0.15, "cli": 0.05}


class Watchdog(Exception):
    pass


def _alarm(signum, frame):
    raise Watchdog("over 10 s")


def _init(memory_mb: int) -> None:
    import resource

    warnings.simplefilter("ignore")
    import torch  # noqa: F401  (imported before the bound, so the bound is what the cases may add)

    import explorer.checkpoint  # noqa: F401
    import explorer.cli.train  # noqa: F401
    import explorer.images  # noqa: F401

    torch.set_num_threads(1)
    size = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = size + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)


def _cli_case(seed: int, tmp: Path) -> str:
    """One train.py (or evaluate) command line with out-of-range values: exit status 2 with a message, and --out
    not created."""
    import contextlib
    import io

    rnd = random.Random(seed)
    bad = {"--epochs": ["0", "-1", "-100", "nan", "1.5", ""], "--batch-size": ["0", "-1", "x"],
           "--lr": ["nan", "-1", "0", "inf", "-inf", "1e999"], "--beta": ["-1", "nan"], "--weight-decay": ["-0.1"],
           "--grad-clip": ["-1", "nan"], "--free-bits": ["-1", "nan"], "--warmup-epochs": ["-1", "nan"],
           "--dataset": ["nope", "", "../mnist"], "--iwae-k": ["-1"], "--image-size": ["0", "-5"],
           "--labeled-fraction": ["-0.5", "2", "nan"], "--maps": ["pca,what", "umap;tsne"], "--log-every": ["0"],
           "--threads": ["0", "-2"], "--seed": ["-1"]}
    option = rnd.choice(sorted(bad))
    out = tmp / f"out-{seed}"
    argv = ["--model", rnd.choice(["mlp", "conv"]), "--dataset", "mnist5k", "--out", str(out), "--dry-run"]
    argv += [option, rnd.choice(bad[option])]
    evaluate = rnd.random() < 0.2 and option in ("--dataset", "--iwae-k", "--image-size")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            if evaluate:
                from explorer.cli.evaluate import main as evaluate_main

                code = evaluate_main([str(ROOT / "pretrained" / "mlp-mnist5k-2d"), "--cache-dir", str(out),
                                      "--no-progress", option, rnd.choice(bad[option])])
            else:
                from explorer.cli.train import main as train_main

                code = train_main(argv)
        except SystemExit as exc:
            code = exc.code
    assert code == 2, f"exit status {code} for {option}: {err.getvalue()[-300:]}"
    assert err.getvalue().strip(), "no message"
    assert not out.exists(), f"{out} was created"
    return "refused"


def run_chunk(kind: str, start: int, count: int) -> dict:
    """Run cases start..start+count-1 of `kind`; returns counts, failures and times."""
    outcomes: collections.Counter = collections.Counter()
    failures, times = [], []
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        if kind == "checkpoint":
            base = tmp / "base"
            F.make_tiny_checkpoint(base)
            payload = json.loads((base / "config.json").read_text())
            weights = (base / "model.safetensors").read_bytes()
        bases = sorted(F.base_files())
        for seed in range(start, start + count):
            t0 = time.perf_counter()
            signal.alarm(10)
            case = None
            try:
                if kind == "upload":
                    mutation = F.KINDS[seed % len(F.KINDS)]
                    base_name = bases[(seed // len(F.KINDS)) % len(bases)]
                    case = (mutation, base_name, seed)
                    sub = mutation
                    outcomes[f"{mutation}:{F.check_upload(F.mutate(mutation, base_name, seed))}"] += 1
                elif kind == "checkpoint":
                    kinds = F.CONFIG_KINDS + F.WEIGHT_KINDS
                    sub = kinds[seed % len(kinds)]
                    case = (sub, "mlp", seed)
                    folder = tmp / "case"
                    shutil.rmtree(folder, ignore_errors=True)
                    shutil.copytree(base, folder)
                    rnd = random.Random(seed)
                    if sub in F.CONFIG_KINDS:
                        (folder / "config.json").write_text(json.dumps(F.mutate_config(payload, sub, rnd)))
                    else:
                        (folder / "model.safetensors").write_bytes(F.mutate_weights(weights, sub, rnd))
                    outcomes[f"{sub}:{F.check_checkpoint(folder)}"] += 1
                else:
                    sub = "cli"
                    case = ("cli", "train.py", seed)
                    outcomes[f"cli:{_cli_case(seed, tmp)}"] += 1
            except BaseException as exc:  # noqa: BLE001  (every escape is a failure to report)
                failures.append((*(case or (kind, "?", seed)), f"{type(exc).__name__}: {str(exc)[:200]}"))
            finally:
                signal.alarm(0)
            times.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"kind": kind, "outcomes": dict(outcomes), "failures": failures, "times": times}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=100_000, help="cases in all (80%% uploads, 15%% checkpoints, 5%% CLI)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--memory-mb", type=int, default=1536, help="memory a worker may add to its size after imports")
    add_smoke_option(p)
    args = apply_smoke(p.parse_args(argv), cases=40, workers=1)
    plan = []
    for kind, share in SHARES.items():
        total = int(args.cases * share)
        plan += [(kind, s, min(CHUNK, total - s)) for s in range(0, total, CHUNK)]
    random.Random(0).shuffle(plan)  # each worker sees a mix of kinds
    tried: collections.Counter = collections.Counter()
    outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list = []
    times: dict[str, list[float]] = collections.defaultdict(list)
    t0 = time.perf_counter()
    done = 0
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.memory_mb,)) as pool:
        futures = {pool.submit(run_chunk, *job): job for job in plan}
        for fut in as_completed(futures):
            kind, start, count = futures[fut]
            try:
                r = fut.result()
            except BrokenProcessPool as exc:
                failures.append((kind, "chunk", start, f"worker died: {exc}"))
                tried[kind] += count
                continue
            tried[kind] += len(r["times"])
            outcomes[kind].update(r["outcomes"])
            failures += r["failures"]
            times[kind] += r["times"]
            done += 1
            if done % 40 == 0:
                print(f"  {sum(tried.values()):,} cases, {len(failures)} failures, {time.perf_counter() - t0:.0f} s",
                      flush=True)
    print(f"\nbench_fuzz: {sum(tried.values()):,} cases in {time.perf_counter() - t0:.0f} s, {args.workers} workers, "
          f"memory bound +{args.memory_mb} MB per worker, watchdog 10 s per case")
    for kind in SHARES:
        ts = sorted(times[kind]) or [0.0]
        pct = lambda q: ts[min(len(ts) - 1, int(q * len(ts)))]  # noqa: E731
        fails = sum(1 for f in failures if f[0] in (kind,) or (kind == "upload" and f[0] in F.KINDS)
                    or (kind == "checkpoint" and f[1] == "mlp"))
        print(f"{kind:11s} tried {tried[kind]:7,}  failures {fails}  time per case p50 {pct(0.5) * 1000:6.1f} ms  "
              f"p99 {pct(0.99) * 1000:6.1f} ms  max {ts[-1] * 1000:7.1f} ms")
        for name, n in sorted(outcomes[kind].items()):
            print(f"    {name:40s} {n:7,}")
    print(f"failures: {len(failures)}")
    for f in failures[:50]:
        print("  ", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
