"""Shared fixtures for the library tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch

from explorer.data.base import DataSplit
from tests.support.foreign_models import make_onnx_pair
from tests.support.tinydata import make_split

from tests.support import checkpoints

# under pytest-xdist (scripts/test.sh: -n 2) each worker gets one core's worth of torch threads, so two workers
# do not fight over the machine's cores
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


# the longest single tests, started first: under pytest-xdist's worksteal each worker then ends at about the same
# time (the bench smoke runs alone take a few minutes, two at a time)
LONGEST_FIRST = ("tests/test_benches.py::test_every_benchmark_runs_in_smoke_mode",
                 "tests/test_distributed.py::test_two_processes_train_like_one_and_resume")


def pytest_collection_modifyitems(config, items):
    first = [item for name in LONGEST_FIRST for item in items if item.nodeid == name]
    items[:] = first + [item for item in items if item not in first]


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
def models() -> dict[str, Path]:
    """name -> folder of every test checkpoint (tiny ones built here, broken ones included)."""
    from tests.support import fake_captioner  # noqa: F401  (registers the test-only captioning family in this process)

    return checkpoints.test_models()


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
