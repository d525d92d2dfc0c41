"""Fixtures for the AppTest suite: a private cache, the app environment, and media capture (the tiny checkpoints,
`models`, are in tests/conftest.py).

Set VAE_EXPLORER_TEST_MODELS=DIR to reuse checkpoints built by an earlier run (`checkpoints.build_all(DIR)`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support import checkpoints
from tests.support.apptest_helpers import Media


@pytest.fixture(autouse=True)
def _own_onnx_exports(monkeypatch) -> None:
    """The app in this process keeps its ONNX exports in its own cache folder, which these tests read and damage,
    not in the session's shared one (tests/conftest.py's shared_onnx_exports, for the servers)."""
    monkeypatch.delenv("VAE_EXPLORER_ONNX_CACHE", raising=False)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vae-cache")


@pytest.fixture
def app_env(models, cache_dir, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(models["tiny-conv-mnist5k"].parent))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    return models


@pytest.fixture
def captioners(app_env) -> list[Path]:
    """Captioning checkpoints: the test-only family, a tiny 'pu' one, and shipped 'pu' ones."""
    found = [app_env["tiny-captioner"]] + ([app_env["tiny-pu"]] if "tiny-pu" in app_env else [])
    return found + [p for n, p in checkpoints.shipped().items() if n.startswith("pu")]


@pytest.fixture
def conv_model(app_env) -> Path:
    """The conv mnist5k model: the shipped one when present, else the tiny one."""
    shipped = checkpoints.shipped()
    return shipped.get("conv-mnist5k", app_env["tiny-conv-mnist5k"])


@pytest.fixture
def media(monkeypatch) -> Media:
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    rec = Media()

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint):
            super().__init__(endpoint)
            rec.stores.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return rec


@pytest.fixture
def threads(monkeypatch) -> list[str]:
    """The thread of every module call of the models the app loads during the test."""
    import streamlit as st

    import explorer.checkpoint
    from ui.app.catalogue import load_model

    seen: list[str] = []
    real = explorer.checkpoint.from_pretrained

    def guarded(*args, **kwargs):
        model = real(*args, **kwargs)
        for m in model.modules():
            m.register_forward_pre_hook(lambda module, a: seen.append(threading.current_thread().name))
        return model

    monkeypatch.setattr(explorer.checkpoint, "from_pretrained", guarded)
    load_model.clear()
    st.cache_data.clear()
    yield seen
    load_model.clear()
    st.cache_data.clear()


@pytest.fixture
def shipped_env(cache_dir, monkeypatch) -> dict[str, Path]:
    """The app on the shipped checkpoints alone (no tiny ones built): name -> folder of each in pretrained/."""
    shipped = checkpoints.shipped()
    if not shipped:
        pytest.skip("no shipped checkpoints here")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(checkpoints.PRETRAINED))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    return shipped
