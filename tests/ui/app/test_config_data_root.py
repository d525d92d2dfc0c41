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


def test_a_model_trained_elsewhere_is_offered_a_data_set_that_fits_it_first():
    names = list(dataviews.EMBEDDED_DATASETS)
    assert dataviews.fitting_first(names, (3, 32, 32))[:2] == ["patches", "shapes"]
    assert dataviews.fitting_first(names, (1, 28, 28))[0] == "mnist5k"
    assert dataviews.fitting_first(names, (3, 256, 256))[:2] == ["patches", "shapes"]  # at least the channels
    assert dataviews.fitting_first(names, ())[0] == "mnist5k"  # shape unknown: the usual order
