"""ui.app.config: VAE_EXPLORER_ONNX_CACHE puts the browser components' ONNX exports in a folder of their own, which
several app processes may share (the test suite's servers); without it they go to the cache folder."""

from __future__ import annotations

import sys

from ui.app.config import app_config


def test_onnx_exports_go_to_the_cache_folder_unless_a_shared_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app.py"])
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VAE_EXPLORER_ONNX_CACHE", raising=False)
    assert app_config().exports_dir() == tmp_path / "cache"
    monkeypatch.setenv("VAE_EXPLORER_ONNX_CACHE", str(tmp_path / "shared"))
    assert app_config().exports_dir() == tmp_path / "shared" and app_config().cache_dir == tmp_path / "cache"
