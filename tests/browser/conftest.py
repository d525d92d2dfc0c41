"""Fixtures for the end-to-end tests: a real `streamlit run app.py` on a loopback port and headless Chromium.

The browser is whichever Chromium is present (/usr/bin/chromium, else Playwright's own); when none is, it is
installed with apt-get if we are root, and otherwise the tests FAIL (they are never skipped).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import checkpoints  # tests/app is on sys.path through pytest.ini's pythonpath

ROOT = Path(__file__).resolve().parents[2]
APP_TESTS = ROOT / "tests" / "app"

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
# `python -c LAUNCH run app.py ...`: `streamlit run` in a process that first registers the test-only captioning
# family (used where no 'pu' checkpoint exists), loaded from its file
LAUNCH = '''import importlib.util, sys
try:
    spec = importlib.util.spec_from_file_location("fake_captioner", {path!r})
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_captioner"] = module
    spec.loader.exec_module(module)
except Exception as exc:  # pragma: no cover
    print("fake captioner not registered:", exc, file=sys.stderr)
from streamlit.web import cli
sys.argv = ["streamlit", *sys.argv[1:]]
sys.exit(cli.main())
'''


def _playwright_chromium() -> str | None:
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if path and Path(path).is_file() else None
    except Exception:  # noqa: BLE001
        return None


def find_chromium() -> str:
    """Path of a usable Chromium; installs Debian's when none is found and we are root; fails loudly otherwise."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and Path(candidate).is_file():
            return candidate
    own = _playwright_chromium()
    if own:
        return own
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, timeout=900)
        if Path("/usr/bin/chromium").is_file():
            return "/usr/bin/chromium"
    pytest.fail("No Chromium found for the browser tests: install Debian's `chromium` (apt-get install -y chromium) "
                "or Playwright's (python -m playwright install chromium). These tests are never skipped.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict[str, str], log: Path, app_args: list[str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port; app_args go to the app after `--` (e.g. --trust-code FILE)."""
    launch = LAUNCH.format(path=str(APP_TESTS / "fake_captioner.py"))
    cmd = [sys.executable, "-c", launch, "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    if app_args:
        cmd += ["--", *app_args]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_app(proc)
    pytest.fail(f"streamlit did not become healthy on port {port}:\n{log.read_text()[-3000:]}")


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def served_script(script: Path, tmp: Path, env: dict[str, str]) -> Iterator[str]:
    """URL of `streamlit run script` serving this checkout's live-component assets (ui/components/devserver.py), with
    `env` added to the environment; stopped on exit."""
    from ui.components.devserver import install_assets, start_script

    target = install_assets(tmp / "assets")
    port = free_port()
    proc = start_script(script, port, target, tmp / "streamlit.log", dict(os.environ, **env))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(proc)


@pytest.fixture(scope="session")
def browser_models() -> dict[str, Path]:
    return checkpoints.test_models()


@pytest.fixture(scope="session")
def app_url(browser_models, tmp_path_factory) -> str:
    """URL of `streamlit run app.py` with the tiny test checkpoints added to pretrained/ by --models, decoding on
    the server (VAE_EXPLORER_LIVE=off: these tests drive the server's sliders; tests/browser/test_live_walk.py
    drives the in-browser ones)."""
    tmp = tmp_path_factory.mktemp("browser-app")
    env = dict(os.environ, VAE_EXPLORER_MODELS=str(browser_models["tiny-conv-mnist5k"].parent),
               VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_LIVE="off")
    port = free_port()
    proc = start_app(port, env, tmp / "streamlit.log")
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    path = find_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(request) -> Path:
    """The test's output folder for screenshots: test-output/browser/<test name>/."""
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    folder = ROOT / "test-output" / "browser" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(90_000)
    yield pg
    ctx.close()
