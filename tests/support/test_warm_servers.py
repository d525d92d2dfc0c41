"""The warm pool's servers start as a fresh `python -c` would: the request's folder, environment, output, cores,
niceness and thread count, not the pool's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support import warm_servers as pool

ROOT = Path(__file__).resolve().parents[2]

# imported by the forked process before Streamlit's command line runs: what it was given
PROBE = """import json, os, sys, torch
with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump({"cwd": os.getcwd(), "env": dict(os.environ), "threads": torch.get_num_threads(),
               "cores": sorted(os.sched_getaffinity(0)), "nice": os.nice(0), "group": os.getpgid(0),
               "pid": os.getpid(), "first_on_path": next(iter(sys.path))}, f)
"""


def test_a_server_forked_by_the_pool_gets_the_requests_setting(tmp_path, warm_servers):
    (tmp_path / "warm_probe.py").write_text(PROBE)
    out, log = tmp_path / "probe.json", tmp_path / "server.log"
    env = {"PATH": os.environ["PATH"], "PROBE_OUT": str(out), "OMP_NUM_THREADS": "1"}
    proc = pool.launch(["version"], tmp_path, env, log, site=tmp_path, imports=["warm_probe"])
    if not pool.SUPPORTED:  # no pool off Linux: the caller starts python itself
        assert warm_servers is None and proc is None
        return
    assert proc is not None, "the pool named in the environment did not answer"
    assert proc.wait(timeout=60) is not None
    got = json.loads(out.read_text())
    assert got["cwd"] == str(tmp_path) and got["first_on_path"] == str(ROOT)  # this checkout's packages first
    assert got["env"] == env  # exactly the request's environment, none of the pool's
    assert got["threads"] == 1
    assert got["cores"] == sorted(os.sched_getaffinity(0)) and got["nice"] == os.nice(0)
    assert got["group"] == got["pid"] == proc.pid  # its own process group, which tests.support.serve.stop signals
    assert "Streamlit, version" in log.read_text()  # then Streamlit's command line ran, output to the log


def test_no_pool_named_means_start_python_yourself(monkeypatch, tmp_path):
    monkeypatch.delenv(pool.VARIABLE, raising=False)
    assert pool.launch(["version"], tmp_path, {}, tmp_path / "log") is None


def test_a_pool_that_does_not_answer_means_start_python_yourself(monkeypatch, tmp_path):
    monkeypatch.setenv(pool.VARIABLE, str(tmp_path / "nobody.sock"))
    assert pool.launch(["version"], tmp_path, {}, tmp_path / "log") is None


@pytest.mark.parametrize("alive", [True, False])
def test_a_warm_process_polls_like_popen(alive):
    proc = pool.WarmProcess(os.getpid() if alive else 2 ** 22 + 1)
    assert proc.poll() == (None if alive else 1)
