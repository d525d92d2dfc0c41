"""Tiny foreign models, built once per test session (the ONNX export takes a few seconds). The full-size ones,
`sd_sized`, are in tests/conftest.py (the browser test of an SD-sized model serves one of them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.foreign_models import EXAMPLE_ADAPTER, make_autoencoder_kl


@pytest.fixture(scope="session")
def kl_folder(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")  # an optional dependency
    return make_autoencoder_kl(tmp_path_factory.mktemp("foreign") / "tiny_kl")


@pytest.fixture(scope="session")
def adapter_file() -> Path:
    return EXAMPLE_ADAPTER
