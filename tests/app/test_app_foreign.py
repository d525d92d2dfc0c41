"""Models trained elsewhere in the app: a diffusers AutoencoderKL folder, an ONNX pair and a trusted adapter file
are offered in the picker and every page shows its content for each, with no Captions page; refused files
(pickles, .pt2, an untrusted adapter, a broken ONNX pair, a diffusers folder without weights) are listed with
the reason, and the app keeps serving; the evaluate command's scores and maps are what the map page shows."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from tests.support.bad_files import digit_like, encode

pytest.importorskip("diffusers")
pytest.importorskip("onnxruntime")

from tests.support import foreign_models  # noqa: E402  (tests/support/foreign_models.py: builders shared with the model tests)


@pytest.fixture(scope="module")
def foreign_root(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained-elsewhere")
    good = {
        "sd-vae": foreign_models.make_autoencoder_kl(root / "sd-vae"),
        "onnx-mnist": foreign_models.make_onnx_pair(root / "onnx-mnist"),
    }
    adapter = root / "my_adapter.py"
    shutil.copy(foreign_models.EXAMPLE_ADAPTER, adapter)
    good["my_adapter"] = adapter
    # refused ones
    (root / "model.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle
    (root / "exported.pt2").write_bytes(b"PK\x03\x04 not really a zip")
    shutil.copy(foreign_models.EXAMPLE_ADAPTER, root / "untrusted_adapter.py")
    broken = foreign_models.make_onnx_pair(root / "onnx-wrong-range")
    spec = json.loads((broken / "onnx_vae.json").read_text())
    (broken / "onnx_vae.json").write_text(json.dumps({**spec, "value_range": [0, 255]}))
    no_weights = foreign_models.make_autoencoder_kl(root / "sd-vae-no-weights")
    (no_weights / "diffusion_pytorch_model.safetensors").unlink()
    return good


@pytest.fixture
def foreign_env(app_env, foreign_root, monkeypatch) -> dict[str, Path]:
    root = foreign_root["sd-vae"].parent
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent), str(root)]))
    monkeypatch.setattr(sys, "argv", [sys.argv[0], "--trust-code", str(foreign_root["my_adapter"])])
    return foreign_root


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sd-vae", "onnx-mnist", "my_adapter"])
def test_every_page_works_for_a_model_trained_elsewhere(foreign_env, media, name):
    folder = foreign_env[name]
    at = open_app(folder)
    _clean(at, "sidebar")
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    image_by_caption(at, "reconstruction")
    image_by_caption(at, "−log p(x | z) per pixel at z = ")  # the (scaled, for diffusers) posterior mean
    assert any(c.value.startswith("Likelihood: ") for c in at.caption)
    assert any(m.label == "ELBO" for m in at.metric)
    at.radio(key="rec_source").set_value("Upload images").run()
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    _clean(at, "reconstruct upload")
    switch_page(at, "walk").run()
    _clean(at, "walk")
    image_by_caption(at, "full decode" if name == "sd-vae" else "decoded mean")  # a C x H x W code: the studio
    switch_page(at, "map").run()
    _clean(at, "map")
    assert any("test items of" in c.value for c in at.caption)
    switch_page(at, "losslab").run()
    _clean(at, "loss lab")
    assert len(at.dataframe) == 1
    with pytest.raises(ValueError):  # no caption decoder: no Captions page
        switch_page(at, "captions")


def test_refused_files_are_listed_with_the_reason_and_the_app_keeps_serving(foreign_env):
    at = open_app()
    _clean(at, "start")
    folders = at.selectbox(key="model_folder").options
    assert any("my_adapter" in f for f in folders)
    reasons = " ".join(c.value for c in at.caption)
    for expected in ("model.pt", "exported.pt2", "--trust-code", "diffusion_pytorch_model.safetensors"):
        assert expected in reasons, (expected, reasons)
    root = foreign_env["sd-vae"].parent
    # refused from the picker's look at the files, or (a wrong value range in the JSON) when the model loads
    named = {"model.pt": "pickle", "untrusted_adapter.py": "--trust-code", "onnx-wrong-range": "value_range",
             "sd-vae-no-weights": "diffusion_pytorch_model.safetensors", "exported.pt2": ".pt2"}
    for bad, problem in named.items():
        at.selectbox(key="model_folder").set_value(str(root / bad)).run()
        assert not at.exception, (bad, [e.value for e in at.exception])
        shown = " ".join(errors(at))
        assert ("cannot be used" in shown or "could not be loaded" in shown) and problem in shown, (bad, shown)
    at.selectbox(key="model_folder").set_value(str(foreign_env["onnx-mnist"])).run()
    _clean(at, "after the refused ones")
    assert any(t.value == "Reconstruct" for t in at.title)


@pytest.mark.slow
def test_the_evaluate_command_feeds_the_map_and_the_percentile(foreign_env, tmp_path):
    from explorer.cli.evaluate import main as evaluate

    folder = foreign_env["onnx-mnist"]
    assert evaluate([str(folder), "--dataset", "mnist5k", "--iwae-k", "5", "--maps", "pca,tsne", "--no-progress"]) == 0
    assert (folder / "eval" / "mnist5k" / "analysis.safetensors").is_file()
    at = open_app(folder)
    key = f"dataset@{folder.name}"
    assert at.selectbox(key=key).value == "mnist5k"
    at.selectbox(key=key).set_value("mnist5k").run()
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    assert any(m.value.startswith("**Where it falls:**") and "mnist5k" in m.value for m in at.markdown)
    switch_page(at, "map").run()
    at.radio(key="map_method").set_value("t-SNE").run()
    _clean(at, "map")
    assert any("precomputed by the evaluate command" in c.value for c in at.caption), [c.value for c in at.caption]
