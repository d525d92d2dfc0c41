"""The installable package: metadata in step with requirements.txt, the `vae-explorer` launcher's command line, no
sys.path edits in the code, and (slow) editable and wheel installs into throwaway venvs whose console scripts work.

The throwaway venvs reuse this interpreter's packages through a .pth line (a venv made with --system-site-packages
would see the base interpreter's packages, not those of the venv running the tests) and have no pip of their own
(Python 3.11's bundled setuptools 65 would shadow ours), so pip runs from the reused packages: `python -m pip`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port, listening_addresses
from tests.support.serve import start, stop

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {ln.split("#")[0].replace(" ", "") for ln in lines if ln.split("#")[0].strip()}


def test_requirements_txt_holds_every_dependency_and_extra():
    reqs = _requirements()
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"]) + PYPROJECT["build-system"]["requires"]  # setup.sh: no build isolation
    for name, extra in project["optional-dependencies"].items():
        wanted += [r for r in extra if not r.startswith(project["name"] + "[")]  # dev = the other extras
    missing = [r for r in wanted if r.replace(" ", "") not in reqs]
    assert not missing, f"in pyproject.toml but not in requirements.txt: {missing}"
    names = {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() for r in wanted}
    extra = [r for r in reqs if re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() not in names]
    assert not extra, f"in requirements.txt but in no dependency list of pyproject.toml: {extra}"


def test_console_scripts():
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["vae-explorer"] == "ui.app.launch:main"
    assert scripts["vae-train"] == "explorer.cli.train:main"
    assert scripts["vae-evaluate"] == "explorer.cli.evaluate:main"
    assert set(PYPROJECT["project"]["optional-dependencies"]) >= {"diffusers", "onnx"}


def test_launcher_applies_the_project_settings_on_loopback():
    from ui.app.launch import MAIN_SCRIPT, SERVE_SCRIPT, config_flags, streamlit_argv, streamlit_config_file

    assert streamlit_config_file() == ROOT / ".streamlit" / "config.toml"
    settings = config_flags(streamlit_config_file())
    assert settings["server.maxUploadSize"] == 16 and settings["server.fileWatcherType"] == "none"
    argv = streamlit_argv(["--server.port", "8600", "--", "--models", "runs", "--cache-dir", "/tmp/c"], env={})
    # the ASGI entry (st.App with the item-image route) around the dashboard script, both shipped
    assert argv[:2] == ["run", str(SERVE_SCRIPT)] and SERVE_SCRIPT.is_file() and MAIN_SCRIPT.is_file()
    assert f'st.App("{MAIN_SCRIPT.name}"' in SERVE_SCRIPT.read_text()
    assert "--server.address=127.0.0.1" in argv and "--server.maxUploadSize=16" in argv
    assert "--server.fileWatcherType=none" in argv and "--server.headless=true" in argv
    assert argv[argv.index("--"):] == ["--", "--models", "runs", "--cache-dir", "/tmp/c"]
    assert argv[argv.index("--server.port") + 1] == "8600"


@pytest.mark.parametrize("given", [["--server.address", "0.0.0.0"], ["--server.address=0.0.0.0"]])
def test_launcher_keeps_the_users_own_settings(given):
    from ui.app.launch import streamlit_argv

    argv = streamlit_argv([*given, "--server.maxUploadSize=50"], env={})
    assert not any(a.startswith("--server.address=127") for a in argv)
    assert [a for a in argv if a.startswith("--server.maxUploadSize")] == ["--server.maxUploadSize=50"]
    assert argv[-1] == "--"
    by_env = streamlit_argv([], env={"STREAMLIT_SERVER_ADDRESS": "::1"})
    assert not any(a.startswith("--server.address") for a in by_env)


def test_pretrained_resolves_in_the_checkout():
    from ui.app.config import PRETRAINED

    assert PRETRAINED == ROOT / "pretrained" and (PRETRAINED / "conv-mnist5k" / "config.json").is_file()


def test_scripts_and_references_import():
    """Every module of scripts/ and references/ imports, as `python -m scripts.NAME` from the root would (neither has
    a test of its own run: a name they import from a moved or renamed module would otherwise go unseen)."""
    names = [f"{folder}.{p.stem}" for folder in ("scripts", "references") for p in sorted((ROOT / folder).glob("*.py"))]
    assert len(names) >= 10
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)"
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_no_sys_path_or_pythonpath_edits():
    edits = re.compile(r"sys\.path\s*(\.(insert|append|extend)|\[|\+?=)|PYTHONPATH")
    found = []
    for folder in ("bench", "tests", "ui"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == Path(__file__).resolve():
                continue
            found += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(path.read_text().splitlines(), 1)
                      if edits.search(line)]
    assert not found, found


# --- installs into throwaway venvs -------------------------------------------------------------------------------

def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    purelib = Path(subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    (purelib / "_base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    command = [str(python), "-m", "pip", "install", "--no-compile", "--no-deps", "--no-build-isolation", "--no-index"]
    proc = subprocess.run([*command, *args], cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def in_venv(python: Path, code: str, cwd: Path) -> str:
    proc = subprocess.run([str(python), "-c", code], cwd=str(cwd), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _other_address() -> str | None:
    """A non-loopback address of this machine, when it has one (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def serve_and_check(script: Path, cwd: Path, log: Path, *app_args: str) -> None:
    """Start the console script on a free port, wait until healthy, fetch the page, check it listens on 127.0.0.1
    only, and stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    proc = start([str(script), "--server.port", str(port), "--", *app_args], port, log, cwd, env, timeout=120)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        listening = listening_addresses(port)
        if listening:
            assert listening == {"0100007F"}, listening  # 127.0.0.1 only, no 0.0.0.0 or ::
        other = _other_address()
        if other:
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
    finally:
        stop(proc)


APP_CHECK = """
import json
from streamlit.testing.v1 import AppTest
import ui.app.config, ui.app.launch
at = AppTest.from_file(str(ui.app.launch.MAIN_SCRIPT), default_timeout=180).run()
print(json.dumps({"pretrained": str(ui.app.config.PRETRAINED), "settings": str(ui.app.launch.streamlit_config_file()),
                  "exceptions": [e.value for e in at.exception],
                  "chosen": str(at.selectbox(key="model_folder").value),
                  "labels": [str(o) for o in at.selectbox(key="model_folder").options]}))
"""


@pytest.mark.slow
def test_editable_install_serves_the_shipped_models(tmp_path):
    python = make_venv(tmp_path / "venv")
    pip_install(python, "-e", ".")
    bin_dir = python.parent
    out = subprocess.run([str(bin_dir / "vae-train"), "--help"], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--model" in out.stdout and "--out" in out.stdout, out.stderr
    out = subprocess.run([str(bin_dir / "vae-explorer"), "--help"], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--models" in out.stdout and "127.0.0.1" in out.stdout, out.stderr
    assert (bin_dir / "vae-evaluate").is_file()
    found = json.loads(in_venv(python, "import json, ui.app.config, ui.app.launch, explorer; print(json.dumps("
                                       "[str(ui.app.config.PRETRAINED), str(ui.app.launch.streamlit_config_file()), explorer.__file__]))", tmp_path))
    assert found[:2] == [str(ROOT / "pretrained"), str(ROOT / ".streamlit" / "config.toml")]
    assert Path(found[2]).resolve().is_relative_to(ROOT)
    serve_and_check(bin_dir / "vae-explorer", tmp_path, tmp_path / "app.log", "--cache-dir", str(tmp_path / "cache"))


@pytest.mark.slow
def test_wheel_install_carries_the_dashboard_models_and_settings(tmp_path):
    python = make_venv(tmp_path / "venv")
    pip_install(python, ".")
    purelib = Path(in_venv(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])", tmp_path).strip())
    env_code = "import os; os.environ['VAE_EXPLORER_CACHE'] = %r\n" % str(tmp_path / "cache")
    report = json.loads(in_venv(python, env_code + APP_CHECK, tmp_path).strip().splitlines()[-1])
    assert Path(report["pretrained"]) == purelib / "ui" / "pretrained"
    assert (purelib / "ui" / "pretrained" / "conv-mnist5k" / "config.json").is_file()
    assert Path(report["settings"]) == purelib / "ui" / "streamlit_config" / "config.toml"
    assert report["exceptions"] == []
    assert Path(report["chosen"]) == purelib / "ui" / "pretrained" / "conv-mnist5k", report  # the default model
    assert any(label.startswith("pu-shapes:") for label in report["labels"]), report["labels"]
    assert not list((purelib / "ui" / "pretrained").glob("*/checkpoint")), "training state must stay out of the wheel"
    out = subprocess.run([str(python.parent / "vae-train"), "--help"], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--model" in out.stdout, out.stderr
    serve_and_check(python.parent / "vae-explorer", tmp_path, tmp_path / "app.log")
