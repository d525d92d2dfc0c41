"""Tiny foreign models, built once per test session (the ONNX export takes a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from foreign_models import EXAMPLE_ADAPTER, make_autoencoder_kl, make_onnx_pair


@pytest.fixture(scope="session")
def kl_folder(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")  # an optional dependency
    return make_autoencoder_kl(tmp_path_factory.mktemp("foreign") / "tiny_kl")


@pytest.fixture(scope="session")
def onnx_folder(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")  # the dynamo exporter needs it
    return make_onnx_pair(tmp_path_factory.mktemp("foreign") / "tiny_onnx")


@pytest.fixture(scope="session")
def adapter_file() -> Path:
    return EXAMPLE_ADAPTER
