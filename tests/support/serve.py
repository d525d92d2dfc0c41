"""Start a Streamlit server (a script, or any command that serves Streamlit) or another server with a health
route (marimo's /health) and wait until it answers; stop it.

Waiting reuses ui.components.devserver.wait_healthy, the app's own dev tool, so there is one health loop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port
from tests.support.warm_servers import WarmProcess, launch
from ui.components.devserver import ROOT, cached_assets, wait_healthy

# Chromium's flags for headless runs in a container: no sandbox (root), no GPU, nothing fetched in the background
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def spawn_streamlit(script: str | Path, port: int, log: Path, *, env: dict[str, str] | None = None,
                    cwd: str | Path = ROOT, app_args: Sequence[str] = (), site: str | Path | None = None,
                    imports: Sequence[str] = ()) -> subprocess.Popen | WarmProcess:
    """`streamlit run script` on 127.0.0.1:port, headless, from `cwd` (the checkout's top folder: `ui`, `explorer` and
    `tests` are this checkout's), returned at once: the caller does other work while it starts (launches a browser),
    then awaits it with wait_healthy. app_args go to the script after `--`; env: the whole environment (default
    ours); output to `log`; its own process group.
    site: a folder of installed packages added first (site.addsitedir), for the component files (cached_assets()):
    Streamlit serves a component's files only from an installed distribution, and this makes the checkout's copy
    the one it serves, even where another checkout's copy is installed editable. imports: modules imported before
    the script runs (a test-only model family that registers itself).
    Forked by the session's warm pool (tests.support.warm_servers) when the environment names one; else python."""
    argv = ["run", str(script), "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless",
            "true", "--browser.gatherUsageStats", "false", *(["--", *app_args] if app_args else [])]
    env = dict(os.environ if env is None else env)
    warm = launch(argv, cwd, env, log, site=site, imports=imports)
    if warm is not None:
        return warm
    code = "\n".join(["import site, sys", *([f"site.addsitedir({str(site)!r})"] if site else []),
                      *(f"import {name}" for name in imports), "from streamlit.web import cli",
                      "sys.argv = ['streamlit', *sys.argv[1:]]", "sys.exit(cli.main())"])
    return spawn([sys.executable, "-c", code, *argv], log, cwd, env)  # -c: `cwd` first on the import path


def start_streamlit(script: str | Path, port: int, log: Path, *, timeout: float = 180.0,
                    **options) -> subprocess.Popen | WarmProcess:
    """spawn_streamlit(script, port, log, **options), returned once healthy; raises RuntimeError with the log's tail
    (and stops it) if it exits or is not healthy within `timeout` s."""
    return healthy_or_stopped(spawn_streamlit(script, port, log, **options), port, log, timeout)


def spawn(cmd: Sequence[str], log: Path, cwd: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run `cmd` (output to `log`, in its own process group) and return at once: for servers started side by
    side, each then awaited with ui.components.devserver.wait_healthy (or use `start`)."""
    return subprocess.Popen(list(cmd), cwd=str(cwd), env=dict(os.environ if env is None else env),
                            stdout=Path(log).open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def start(cmd: Sequence[str], port: int, log: Path, cwd: str | Path, env: dict[str, str] | None = None,
          timeout: float = 180.0, *, health: str = "/_stcore/health") -> subprocess.Popen:
    """Run `cmd` (output to `log`, in its own process group) and return it once 127.0.0.1:port`health` answers
    (Streamlit's health route by default); raises RuntimeError with the log's tail if it exits or is not healthy
    within `timeout` s."""
    return healthy_or_stopped(spawn(cmd, log, cwd, env), port, log, timeout, health)


def healthy_or_stopped(proc: subprocess.Popen | WarmProcess, port: int, log: Path, timeout: float = 180.0,
                       health: str = "/_stcore/health") -> subprocess.Popen | WarmProcess:
    """`proc` once 127.0.0.1:port`health` answers; raises RuntimeError with the log's tail, and stops it, if it
    exits or is not healthy within `timeout` s."""
    try:
        return wait_healthy(proc, port, Path(log), timeout, health=health)
    except BaseException:
        stop(proc)
        raise


def stop(*procs: subprocess.Popen | WarmProcess | None) -> None:
    """SIGTERM each server's process group (all at once: they shut down side by side), SIGKILL one still running
    15 s later; nothing for one that has already exited (or None)."""
    running = [proc for proc in procs if proc is not None and proc.poll() is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:  # it ended since poll()
            pass
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@contextmanager
def served(script: str | Path, log: Path, cwd: str | Path, env: dict[str, str] | None = None,
           app_args: Sequence[str] = (), timeout: float = 180.0) -> Iterator[str]:
    """`streamlit run script` on a free port; yields its URL (http://127.0.0.1:PORT) and stops it on exit."""
    port = free_port()
    proc = start_streamlit(script, port, log, env=env, cwd=cwd, app_args=app_args, timeout=timeout)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@contextmanager
def demo_in_chromium(script: str | Path, cache_variable: str, fresh_cache: bool = True) -> Iterator[tuple[object, str]]:
    """A component demo script (tests/browser/*_app.py) served with this checkout's component files on a free port,
    and headless Chromium, launched while the server starts; yields (the Playwright browser, the server's URL) once
    both are up, and stops both after. For the benchmarks that time a component in its demo page. fresh_cache: the
    demo's export cache (the environment variable `cache_variable`) is a new empty folder, so the first visit
    exports; else the demo's own default (tests/support/demo_models.export_cache)."""
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="demo-"))
    port, log = free_port(), tmp / "streamlit.log"
    env = dict(os.environ, **({cache_variable: str(tmp / "cache")} if fresh_cache else {}))
    proc = spawn_streamlit(script, port, log, env=env, site=cached_assets())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        headless=True, args=CHROMIUM_ARGS)
            wait_healthy(proc, port, log)
            yield browser, f"http://127.0.0.1:{port}"
            browser.close()
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
