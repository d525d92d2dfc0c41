"""Shared fixtures for the library tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import torch

from explorer.data.base import DataSplit
from tests.support.foreign_models import make_onnx_pair
from tests.support.tinydata import make_split

from tests.support import checkpoints
from tests.support import warm_servers as warm_servers_pool
from ui.components.devserver import cached_assets

# under pytest-xdist (scripts/test.sh: -n 2) each worker gets one core's worth of torch threads, so two workers
# do not fight over the machine's cores
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


# the longest single tests, started first: under pytest-xdist's worksteal each worker then ends at about the same
# time (the bench smoke runs alone take a few minutes, two at a time)
LONGEST_FIRST = ("tests/test_benches.py::test_no_input_lost_in_bursts",
                 "tests/test_benches.py::test_every_benchmark_runs_in_smoke_mode",
                 "tests/test_distributed.py::test_two_processes_train_like_one_and_resume")


def pytest_collection_modifyitems(config, items):
    # a parametrized test's items are named "<id>[<params>]": each of them is matched by the test's id
    first = [item for name in LONGEST_FIRST for item in items if item.nodeid.split("[", 1)[0] == name]
    items[:] = first + [item for item in items if item not in first]


# -- how the pytest-xdist workers shared the run, printed at its end: whether one of them idled while the other
# finished its last long tests (the suite's wall time is the later worker's)
_RUN = {"started": time.time(), "tests": 0, "busy_s": 0.0, "workers": []}


def pytest_runtest_logreport(report):
    _RUN["busy_s"] += report.duration
    _RUN["tests"] += report.when == "call"


def pytest_sessionfinish(session):
    _stop_pool()
    out = getattr(session.config, "workeroutput", None)  # set on a pytest-xdist worker only
    if out is not None:
        out.update(tests=_RUN["tests"], busy_s=_RUN["busy_s"], ended=time.time())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pytest-xdist, on the controller: a worker has finished
    _RUN["workers"].append((node.gateway.id, getattr(node, "workeroutput", {})))


def pytest_terminal_summary(terminalreporter):
    done = [(name, out) for name, out in _RUN["workers"] if "ended" in out]
    if not done:
        return
    last = max(out["ended"] for _, out in done)
    for name, out in sorted(done):
        terminalreporter.write_line(
            f"worker {name}: {out['tests']} tests, {out['busy_s']:.0f} s in tests, ended "
            f"{out['ended'] - _RUN['started']:.0f} s after the start ({last - out['ended']:.0f} s before the last one)")


@pytest.fixture(scope="session")
def session_shared(tmp_path_factory) -> Path:
    """A folder that every test process of this session shares: pytest-xdist's workers each have a base folder
    of their own (.../pytest-N/popen-gwK), and this is the one above them; without xdist, the base folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


_POOL: dict = {}  # this test process's warm server pool: its process, socket path and folder, once started


def _start_pool() -> Path:
    """Starts this process's warm server pool (once) and names it in the environment; its socket's path."""
    if not _POOL:
        folder = Path(tempfile.mkdtemp(prefix="warm-"))  # short: a Unix socket's path has at most 107 characters
        proc, path = warm_servers_pool.start_pool(folder)
        os.environ[warm_servers_pool.VARIABLE] = str(path)
        _POOL.update(proc=proc, path=path, folder=folder)
    return _POOL["path"]


def _stop_pool() -> None:
    if _POOL:
        os.environ.pop(warm_servers_pool.VARIABLE, None)
        warm_servers_pool.stop_pool(_POOL["proc"])
        shutil.rmtree(_POOL["folder"], ignore_errors=True)
        _POOL.clear()


def pytest_sessionstart(session):
    # a pytest-xdist worker (the README's test command) starts its pool now, so that the pool's imports (about
    # 4 s) overlap with collecting the tests instead of holding up the worker's first server; a run in one process
    # (a few test files, say) starts it only when a test asks for it
    if os.environ.get("PYTEST_XDIST_WORKER") and warm_servers_pool.SUPPORTED:
        _start_pool()


@pytest.fixture(scope="session")
def warm_servers() -> Path | None:
    """A pool that imports torch, onnx, pandas and streamlit once and forks each Streamlit server this test process
    (or a benchmark it runs) starts (tests.support.warm_servers, named in the environment): a server's first page
    then skips about 2 s of imports. One per test process, stopped at the session's end; its socket's path (None
    off Linux, where each server starts its own python)."""
    return _start_pool() if warm_servers_pool.SUPPORTED else None


@pytest.fixture(scope="session")
def component_assets(warm_servers) -> Path:
    """This checkout's component files pip-installed once for every server the browser tests and the benchmarks'
    smoke runs start (ui.components.devserver.cached_assets: keyed by the files' content, in the cache folder where
    the benchmarks look for it; a second worker finds the first one's install, or makes its own and the first rename
    wins). Each server installing its own copy (14 MB with onnxruntime-web's wasm) cost about 1.5 s of CPU."""
    return cached_assets()


@pytest.fixture(scope="session", autouse=True)
def shared_onnx_exports(session_shared) -> Path:
    """One folder of ONNX exports for every app server the session starts (browser tests and benchmarks), shared by
    the pytest-xdist workers: VAE_EXPLORER_ONNX_CACHE, inherited by each server, so a shipped decoder is exported
    once rather than once a server (explorer.onnx.export locks a part while it is made). AppTest tests do not
    read it (tests/app/conftest.py): they check their own cache folder's files."""
    folder = session_shared / "onnx-exports"
    folder.mkdir(exist_ok=True)
    os.environ["VAE_EXPLORER_ONNX_CACHE"] = str(folder)
    return folder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def tiny_split() -> DataSplit:
    return make_split()


@pytest.fixture
def map_workers(monkeypatch) -> list[subprocess.Popen]:
    """Every worker process explorer.runtime.workers starts during the test (map workers and the like), in order: for
    the tests that kill one."""
    from explorer.runtime import workers

    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(cmd, *args, **kwargs):
        proc = real_popen(cmd, *args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(workers.subprocess, "Popen", popen)
    return started


@pytest.fixture(scope="session")
def models(session_shared) -> dict[str, Path]:
    """name -> folder of every test checkpoint (tiny ones built once a session, broken ones included)."""
    from tests.support import fake_captioner  # noqa: F401  (registers the test-only captioning family in this process)

    return checkpoints.test_models(session_shared / "test-models")


@pytest.fixture(scope="session")
def optimum_folder(tmp_path_factory) -> Path:
    """The shipped conv-mnist5k exported in Optimum's layout (vae_encoder/model.onnx + vae_decoder/model.onnx, with
    explorer's metadata_props; no fp16 file), built once, in a folder of its own under a models root."""
    pytest.importorskip("onnxruntime")
    from explorer.cache import weights_digest
    from explorer.checkpoint import from_pretrained
    from explorer.onnx.export import export_optimum

    shipped = Path(__file__).resolve().parents[1] / "pretrained" / "conv-mnist5k"
    folder = tmp_path_factory.mktemp("optimum-models") / "conv-mnist5k-optimum"
    # the TorchScript exporter: the faster one, and the layout is the same
    export_optimum(from_pretrained(shipped), folder, weights_digest(shipped), exporters=("torchscript",), fp16=False)
    return folder


@pytest.fixture(scope="session")
def onnx_folder(tmp_path_factory) -> Path:
    """A tiny Bernoulli ONNX pair on 1x28x28 with a 4-D code (tests.support.foreign_models), built once."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")  # the dynamo exporter needs it
    return make_onnx_pair(tmp_path_factory.mktemp("foreign") / "tiny_onnx")


@pytest.fixture(scope="session")
def sd_sized(session_shared) -> dict[str, Path]:
    """The SD 1.x and FLUX-like configs at full size (83.7M parameters each, random seeded weights), built once a
    session (the pytest-xdist workers share them: tests.support.built_once): save_pretrained folders, the same
    weights as original-layout single files, and a first_stage_model. full checkpoint. Used only by slow tests
    (tests/models/foreign/test_sd_sized.py, tests/browser/test_browser_sd_sized.py)."""
    pytest.importorskip("diffusers")
    import torch

    from tests.support.built_once import built_once
    from tests.support.foreign_models import FLUX_LIKE_CONFIG, SD1_CONFIG, make_kl, write_ldm_file

    def build(root: Path) -> None:
        sd = make_kl(root / "sd1", seed=0, **SD1_CONFIG)
        write_ldm_file(sd, root / "sd1.safetensors")
        write_ldm_file(sd, root / "sd1_full.safetensors", prefix="first_stage_model.",
                       extra={"model.diffusion_model.out.2.bias": torch.zeros(4)})
        del sd
        write_ldm_file(make_kl(root / "flux", seed=1, **FLUX_LIKE_CONFIG), root / "flux.safetensors")

    root = built_once(session_shared / "sd_sized", build)
    return {"sd1": root / "sd1", "sd1_file": root / "sd1.safetensors", "sd1_full": root / "sd1_full.safetensors",
            "flux": root / "flux", "flux_file": root / "flux.safetensors"}
