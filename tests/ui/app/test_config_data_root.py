"""ui.app.config: --data-root (or VAE_EXPLORER_DATA_ROOT) reaches the app's data set loading, so a folder
data set's images show in the app."""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from ui.app import dataviews
from ui.app.config import app_config


def test_data_root_option_is_parsed_and_folder_sets_load_from_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"photo{i}.png")
    monkeypatch.setattr(sys, "argv", ["app.py", "--data-root", str(tmp_path)])
    assert app_config().data_root == tmp_path
    split = dataviews._load_split_uncached("folder", '{"image_size": 16}')
    assert len(split.train) + len(split.test) == 12
    monkeypatch.setattr(sys, "argv", ["app.py"])
    monkeypatch.setenv("VAE_EXPLORER_DATA_ROOT", str(tmp_path / "elsewhere"))
    assert app_config().data_root == tmp_path / "elsewhere"
