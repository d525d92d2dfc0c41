"""Fixtures for the end-to-end tests: a real `streamlit run app.py` on a loopback port and headless Chromium.

The browser is whichever Chromium is present (/usr/bin/chromium, else Playwright's own); when none is, it is
installed with apt-get if we are root, and otherwise the tests FAIL (they are never skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import checkpoints
from tests.support.ports import free_port
from tests.support.serve import CHROMIUM_ARGS, start_streamlit, stop

ROOT = Path(__file__).resolve().parents[2]


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


def start_app(port: int, env: dict[str, str], log: Path, app_args: list[str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:port, with the test-only captioning family registered first (used where
    no 'pu' checkpoint exists); app_args go to the app after `--` (e.g. --trust-code FILE)."""
    try:
        return start_streamlit(ROOT / "app.py", port, log, env=env, app_args=app_args or (),
                               imports=("tests.support.fake_captioner",), timeout=120)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@contextmanager
def served_script(script: Path, tmp: Path, env: dict[str, str], *, assets: Path) -> Iterator[str]:
    """URL of `streamlit run script` serving this checkout's component files (`assets`: the component_assets
    fixture), with `env` added to the environment; stopped on exit."""
    port = free_port()
    proc = start_streamlit(script, port, tmp / "streamlit.log", env=dict(os.environ, **env), site=assets)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser_models(session_shared) -> dict[str, Path]:
    return checkpoints.test_models(session_shared / "test-models")


@pytest.fixture(scope="session")
def shipped_live_url(tmp_path_factory, component_assets) -> Iterator[str]:
    """URL of `streamlit run app.py` as a user starts it: the shipped models alone (pretrained/), the walk decoded
    in the page; this checkout's component assets."""
    tmp = tmp_path_factory.mktemp("shipped-live-app")
    env = {"VAE_EXPLORER_MODELS": "", "VAE_EXPLORER_CACHE": str(tmp / "cache"), "VAE_EXPLORER_LIVE": "on"}
    with served_script(ROOT / "app.py", tmp, env, assets=component_assets) as url:
        yield url


@pytest.fixture(scope="session")
def app_url(browser_models, tmp_path_factory, warm_servers) -> str:
    """URL of `streamlit run app.py` with the tiny test checkpoints added to pretrained/ by --models, decoding on
    the server (VAE_EXPLORER_LIVE=off: these tests drive the server's sliders; tests/browser/test_live_walk.py
    drives the in-browser ones)."""
    tmp = tmp_path_factory.mktemp("browser-app")
    env = dict(os.environ, VAE_EXPLORER_MODELS=str(browser_models["tiny-conv-mnist5k"].parent),
               VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_LIVE="off")
    port = free_port()
    proc = start_app(port, env, tmp / "streamlit.log")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture(scope="session")
def browser(warm_servers):
    """Headless Chromium for the session (warm_servers: the servers these tests start fork from the warm pool)."""
    from playwright.sync_api import sync_playwright

    path = find_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(request) -> Path:
    """The test's output folder for screenshots: test-output/browser/<test name>/."""
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    folder = ROOT / "test-output" / "browser" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser, width: int, height: int, timeout_ms: int):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    pg = ctx.new_page()
    pg.set_default_timeout(timeout_ms)
    yield pg
    ctx.close()


@pytest.fixture
def page(browser):
    yield from _page(browser, 1400, 1000, 90_000)


@pytest.fixture
def tall(browser):
    """A window tall enough for the map page's canvas and its side panel together."""
    yield from _page(browser, 1500, 1300, 120_000)
