"""A folder in Optimum's ONNX layout (the shipped conv-mnist5k, exported by explorer.onnx.export_optimum) in the app and
the evaluate command: the picker offers it, the Reconstruct page shows its reconstruction, and `vae-evaluate` scores
it."""

from __future__ import annotations

import shutil

import pytest

from tests.support.apptest_helpers import errors, image_by_caption, open_app


@pytest.mark.slow
def test_the_app_and_the_evaluate_command_take_an_optimum_folder(app_env, optimum_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(optimum_folder.parent))
    at = open_app(optimum_folder)
    assert not at.exception and not errors(at), errors(at)
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    assert not at.exception and not errors(at), errors(at)
    image_by_caption(at, "reconstruction")

    from explorer.cli.evaluate import main as evaluate

    folder = shutil.copytree(optimum_folder, tmp_path / "scored")  # evaluate writes its results into the folder
    assert evaluate([str(folder), "--dataset", "mnist5k", "--limit", "20", "--iwae-k", "2", "--maps", "none",
                     "--no-progress"]) == 0
    assert (folder / "eval" / "mnist5k" / "analysis.safetensors").is_file()
