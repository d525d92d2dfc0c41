"""Safe defaults: the documented start commands serve on 127.0.0.1 only with XSRF protection on; an upload's file
name never becomes a path on the server."""

from __future__ import annotations

import os
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.apptest_helpers import open_app
from tests.support.bad_files import digit_like, encode

ROOT = Path(__file__).resolve().parents[2]
from tests.support.ports import free_port, listening_addresses  # noqa: E402
from tests.support.serve import start, stop  # noqa: E402


def _files(*folders: Path) -> set[Path]:
    return {p for f in folders if f.exists() for p in f.rglob("*")}


def test_upload_named_with_dot_dots_writes_nothing_outside_the_cache(conv_model, app_env, tmp_path, monkeypatch):
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    cache = Path(os.environ["VAE_EXPLORER_CACHE"])
    watched = [tmp_path, ROOT / "ui", ROOT / "pretrained", conv_model]
    before = _files(*watched) - _files(cache)
    at = open_app(conv_model)
    at.radio(key="rec_source").set_value("Upload images")
    at.run()
    png = encode(Image.fromarray(digit_like(28)))
    at.file_uploader(key="rec_files").set_value([("../../x.png", png, "image/png"),
                                                 ("/tmp/../etc/y.png", png, "image/png")])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after = _files(*watched) - _files(cache)
    assert after == before, sorted(map(str, after - before))
    assert not (tmp_path / "work" / "x.png").exists() and not Path("/etc/y.png").exists()


def test_project_settings_serve_on_loopback_with_xsrf_on():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert settings["address"] == "127.0.0.1" and settings["enableXsrfProtection"] is True
    from ui.app.launch import streamlit_argv

    argv = streamlit_argv([], env={})
    assert "--server.address=127.0.0.1" in argv and "--server.enableXsrfProtection=true" in argv
    assert "--server.address=0.0.0.0" in streamlit_argv(["--server.address", "0.0.0.0"], env={}) or \
        "0.0.0.0" in streamlit_argv(["--server.address", "0.0.0.0"], env={})


def _serve(cmd: list[str], log: Path, item_route: bool = False) -> None:
    """Start a start command on a free port; check health, 127.0.0.1-only listening and the XSRF cookie, and
    whether ui/itemserver's route is served (it answers an unknown token with its own 404)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    proc = start([*cmd, "--server.port", str(port)], port, log, ROOT, env, timeout=150)
    try:
        # XSRF protection on: an upload without the XSRF cookie and token is refused (403) before any handler runs
        put = urllib.request.Request(f"http://127.0.0.1:{port}/_stcore/upload_file/s/f", data=b"x", method="PUT")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(put, timeout=10)
        assert info.value.code == 403 and b"xsrf" in info.value.read().lower()
        try:  # without the route Streamlit answers with its page (200) or its own 404
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/vae/item/no-such-token/0", timeout=10) as r:
                code, body = r.status, r.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        assert (code == 404 and body == b"unknown or expired item token") == item_route, (code, body[:200])
        listening = listening_addresses(port)
        assert listening == {"0100007F"}, listening  # 127.0.0.1 only, no 0.0.0.0 or ::
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["streamlit run app.py", "python -m ui.app.launch"])
def test_start_commands_listen_on_loopback_only_with_xsrf(command, tmp_path):
    port_args: list[str] = []
    if command == "streamlit run app.py":  # reads .streamlit/config.toml from the checkout
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py"]
    else:  # what the vae-explorer console script and scripts/app.sh (without ADDRESS) run
        cmd = [sys.executable, "-m", "ui.app.launch"]
    _serve(cmd + port_args, tmp_path / "log.txt", item_route=command != "streamlit run app.py")
