"""Warm starts for the Streamlit servers that tests and benchmarks start.

A server's first page waits for its process to import torch, onnx, pandas and streamlit: about 2 s of CPU, which
every one of the session's thirty-odd servers paid again (and most of a benchmark's 5-second smoke run). The pool
is one process that imports those libraries once, then forks a server per request; the forked server imports only
this checkout's modules.

    python -m tests.support.warm_servers SOCKET        # the pool: serves requests on the Unix socket SOCKET
    pool = start_pool(folder)                          # the same, started and awaited; stop_pool(pool) ends it
    proc = launch(argv, cwd, env, log)                 # a server from the pool named by $VAE_EXPLORER_WARM_SERVERS

tests/conftest.py starts one pool a test process (the `warm_servers` fixture) and names it in the environment, so
the benchmarks' smoke runs, which are its children, find it too; tests.support.serve.spawn_streamlit asks it, and
starts a plain `python` when no pool is named (a benchmark run by hand).

Written here rather than with multiprocessing's "forkserver": that one serves only the process that started it,
and the servers are started by the benchmarks, the test process's children.

Nothing of this checkout is imported before the fork, only libraries, and the forked server gets the request's
working folder, environment, output file, process group, cores and niceness, as a fresh `python -c` would. Two
things a library reads at import are redone after the fork: torch's thread count (OMP_NUM_THREADS) and numpy's
global random state. The import path is the pool's: it runs as `python -m` from the checkout's top folder, so this
checkout's `ui`, `explorer` and `tests` come first, as for `python -c` there (a script's own folder is added by
Streamlit when it runs it).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import site
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

VARIABLE = "VAE_EXPLORER_WARM_SERVERS"  # the pool's socket path, for the processes a test session starts
SUPPORTED = sys.platform == "linux"  # fork, /proc and CPU affinity as Linux has them; elsewhere servers start plain
# what a server's first page imports, heaviest first (python -X importtime of app.py's and the live demo's servers),
# and diffusers' autoencoders for the servers of a diffusers folder (2 s). The native threads these start before the
# fork are OpenBLAS's thread servers (numpy's; scipy's, which diffusers' autoencoders load), which OpenBLAS stops
# and starts again around a fork (pthread_atfork), and pyarrow's jemalloc thread, which a server never waits on
PRELOAD = ("torch", "torch.export", "onnx", "onnxruntime", "pandas", "pyarrow", "numpy", "PIL.Image",
           "safetensors.torch", "plotly.graph_objects", "streamlit", "streamlit.web.cli", "streamlit.web.bootstrap",
           "streamlit.web.server", "diffusers", "diffusers.models.autoencoders")


class WarmProcess:
    """A server forked by the pool, with the part of subprocess.Popen's interface that tests.support.serve uses:
    pid (also its process group), poll(), wait(timeout), kill(), returncode. It is the pool's child, not ours, so
    its exit status is not ours to read: returncode is 1 once it has gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not _alive(self.pid):
            self.returncode = 1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"warm server {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    """Whether `pid` runs (the pool reaps its children at once, so a gone server leaves no zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def launch(argv: Sequence[str], cwd: str | Path, env: dict[str, str], log: Path, *, site: str | Path | None = None,
           imports: Sequence[str] = ()) -> WarmProcess | None:
    """`streamlit <argv>` forked by the pool that $VAE_EXPLORER_WARM_SERVERS names, in `cwd`, with exactly `env`,
    output to `log`, in a process group of its own; `site` is added as a site folder and `imports` are imported
    first (in that order). None when no pool is named or it does not answer: the caller starts python itself."""
    path = os.environ.get(VARIABLE)
    if not path or not SUPPORTED:
        return None
    # what a child would inherit from us: the cores it may run on (a benchmark pins its server) and our niceness
    request = {"argv": list(argv), "cwd": str(cwd), "env": dict(env), "log": str(log),
               "site": str(site) if site else None, "imports": list(imports),
               "cores": sorted(os.sched_getaffinity(0)), "nice": os.nice(0)}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(300)  # the pool may still be importing PRELOAD
            conn.connect(path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(conn.makefile("rb").readline())
    except (OSError, ValueError):
        return None
    return WarmProcess(int(reply["pid"]))


def _become_server(request: dict) -> None:
    """In the forked child: take the request's folder, environment, output and process group, and run Streamlit's
    command line; never returns."""
    code = 1
    try:
        os.setsid()
        os.sched_setaffinity(0, request["cores"])
        try:
            os.nice(request["nice"] - os.nice(0))
        except PermissionError:  # a niceness below the pool's needs privileges: keep the pool's
            pass
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0), os.dup2(out, 1), os.dup2(out, 2)
        os.close(null), os.close(out)
        _redo_import_time_state(request["env"])
        if request["site"]:
            site.addsitedir(request["site"])
        for name in request["imports"]:
            importlib.import_module(name)
        from streamlit.web import cli

        sys.argv = ["streamlit", *request["argv"]]
        code = cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported in the server's log, like an uncaught error in python
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # what the interpreter's exit would run; then no teardown of the pool's modules
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code or 0)


def _redo_import_time_state(env: dict[str, str]) -> None:
    """What the preloaded libraries read when the pool imported them, set again from the server's environment."""
    import numpy
    import torch

    if env.get("OMP_NUM_THREADS", "").isdigit():
        torch.set_num_threads(max(1, int(env["OMP_NUM_THREADS"])))
    numpy.random.seed()  # a fresh global state from the OS, not the pool's copy


def serve(path: str | Path) -> None:
    """The pool: listens on the Unix socket `path`, imports PRELOAD, then forks a server per request, until killed or
    until the process that started it has gone. It says "listening" first, so its starter goes on while it imports: a
    request made meanwhile waits in the socket's queue, no longer than a server of its own would have taken to import
    the same."""
    starter = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the servers are reaped as they end
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    print("listening", flush=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nobody reads the pipe after that line: it must not fill up
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    listener.settimeout(2.0)
    while os.getppid() == starter:  # a starter killed without stopping the pool (SIGKILL) leaves no pool behind
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(60)
            request = json.loads(conn.makefile("rb").readline())
            sys.stdout.flush(), sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                _become_server(request)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def start_pool(folder: Path) -> tuple[subprocess.Popen, Path]:
    """A pool started in `folder` (its socket and log there), returned once it listens (it then imports PRELOAD
    while its starter goes on): (process, socket path)."""
    path, log = folder / "pool.sock", folder / "pool.log"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.warm_servers", str(path)], cwd=str(root),
                            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, start_new_session=True)
    said = proc.stdout.readline()  # "listening" once it does; "" if it died
    if said.strip() != "listening":
        proc.kill()
        raise RuntimeError(f"the warm server pool did not start:\n{log.read_text()[-3000:]}")
    return proc, path


def stop_pool(proc: subprocess.Popen) -> None:
    """Ends the pool (the servers it forked have their own process groups and are stopped by their starters)."""
    proc.kill()
    proc.wait(timeout=15)


if __name__ == "__main__":
    serve(sys.argv[1])
