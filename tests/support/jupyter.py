"""A real JupyterLab for the notebook-widget tests: one server on 127.0.0.1 with a token, its config, data and
runtime folders private to the run, and a client for the kernel a notebook page started (to read and set the
widget's Python side from the test, on the same kernel the page talks to)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the notebooks' folder
    runtime: Path  # kernel connection files
    proc: subprocess.Popen

    def get(self, path: str) -> object:
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 (loopback)
            return json.loads(answer.read())

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


def start_lab(root: Path, work: Path, env: dict[str, str], timeout: float = 120.0) -> Lab:
    """`jupyter lab` on a free loopback port serving `root`; returns once /api/status answers (RuntimeError with
    the log's tail otherwise). The app object is exposed in the page (window.jupyterapp) so that a test can run
    JupyterLab's own commands."""
    port, token = free_port(), secrets.token_hex(16)
    runtime = work / "runtime"
    env = {**env, "JUPYTER_CONFIG_DIR": str(work / "config"), "JUPYTER_DATA_DIR": str(work / "data"),
           "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=", "--LabApp.extension_manager=readonly",  # nothing asks PyPI or a news feed
           *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]
    log = work / "jupyterlab.log"
    proc = subprocess.Popen(cmd, cwd=str(root), env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, runtime, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            lab.get("/api/status")
            return lab
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells (python3 kernel) at path."""
    import nbformat  # its import takes 0.9 s (jsonschema's URI grammar), which collecting the tests would pay

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def kernel_client(lab: Lab, notebook: str):
    """A jupyter_client BlockingKernelClient for the kernel of the page's session on `notebook`."""
    from jupyter_client import BlockingKernelClient

    sessions = [s for s in lab.get("/api/sessions") if s["path"].endswith(notebook)]
    if not sessions:
        raise RuntimeError(f"no kernel session for {notebook}")
    client = BlockingKernelClient(connection_file=str(lab.runtime / f"kernel-{sessions[0]['kernel']['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=30)
    return client


def kernel_eval(client, expression: str, setup: str = "", timeout: float = 60.0) -> object:
    """Run `setup`, then the JSON of `expression`, in the kernel; returns the value."""
    code = f"{setup}\nimport json as _j\nprint('@@' + _j.dumps({expression}))"
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("ERROR " + "\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=timeout, output_hook=hook)
    text = "".join(out)
    if reply["content"]["status"] != "ok" or "@@" not in text:
        raise RuntimeError(f"kernel code failed: {text[-2000:]}")
    return json.loads(text.split("@@", 1)[1])


def stop_lab(lab: Lab) -> None:
    """Stop the server's process group (its kernels with it)."""
    if lab.proc.poll() is None:
        os.killpg(lab.proc.pid, 15)
        try:
            lab.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(lab.proc.pid, 9)
