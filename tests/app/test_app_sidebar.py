"""Sidebar: model picker (summaries, metrics, broken folders), device picker, data set picker, --models."""

from __future__ import annotations

import sys

from tests.support.apptest_helpers import errors, open_app, switch_page


def _labels(at) -> dict[str, str]:
    box = at.selectbox(key="model_folder")
    return dict(zip(box.options, box.options))


def test_picker_lists_every_checkpoint_with_summary_and_metrics(app_env):
    at = open_app()
    options = at.selectbox(key="model_folder").options
    for name in ("tiny-conv-mnist5k", "tiny-mlp-2d", "tiny-conv-patches", "tiny-captioner"):
        assert any(o.startswith(f"{name}: ") and "VAE on" in o for o in options), (name, options)
    assert any(o.startswith("⚠ broken-model") for o in options)
    at = open_app(app_env["tiny-conv-mnist5k"])
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "conv VAE on mnist5k" in captions and "ELBO" in captions and "code size 8" in captions


def test_broken_folders_are_reported_and_other_models_stay_usable(app_env):
    at = open_app(app_env["broken-model"])
    assert any("broken-model cannot be used" in e for e in errors(at))
    assert any("Choose a model" in i.value for i in at.info)
    expander_text = " ".join(c.value for c in at.sidebar.caption)
    assert "broken-model" in expander_text and "not valid JSON" in expander_text
    at.selectbox(key="model_folder").set_value(str(app_env["bad-weights"])).run()
    assert any("bad-weights could not be loaded" in e and "safetensors" in e for e in errors(at))
    at.selectbox(key="model_folder").set_value(str(app_env["tiny-conv-mnist5k"])).run()
    assert not errors(at) and not at.exception
    switch_page(at, "walk").run()
    assert not errors(at) and at.slider


def test_device_picker_offers_only_present_devices(app_env):
    from explorer.checkpoint import available_devices

    at = open_app(app_env["tiny-conv-mnist5k"])
    assert at.selectbox(key="device").options == available_devices()
    at.selectbox(key="device").set_value("cpu").run()
    assert not errors(at)


def test_data_set_picker_defaults_to_the_models_own(app_env):
    at = open_app(app_env["tiny-conv-patches"])
    box = at.selectbox(key="dataset@tiny-conv-patches")
    assert box.value == "patches" and set(box.options) >= {"patches (the model's own)", "mnist5k", "digits"}
    switch_page(at, "reconstruct").run()
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    assert any("(0 to 449)" in n.label for n in at.number_input)
    box = at.selectbox(key="dataset@tiny-conv-patches")
    box.set_value("mnist5k").run()
    assert any("(0 to 499)" in n.label for n in at.number_input)  # examples now come from mnist5k, as RGB
    assert not errors(at)


def test_models_argument_adds_a_folder(app_env, monkeypatch, tmp_path):
    import shutil

    extra = tmp_path / "more"
    shutil.copytree(app_env["tiny-mlp-2d"], extra / "copied-model")
    monkeypatch.delenv("VAE_EXPLORER_MODELS")
    monkeypatch.setattr(sys, "argv", ["app.py", "--models", str(extra)])
    at = open_app()
    options = at.selectbox(key="model_folder").options
    assert any(o.startswith("copied-model: ") for o in options)
    assert not any(o.startswith("tiny-conv-mnist5k") for o in options)
    at.selectbox(key="model_folder").set_value(str(extra / "copied-model")).run()
    assert not errors(at)


def test_no_checkpoint_at_all(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(tmp_path))
    monkeypatch.setattr("ui.app.config.PRETRAINED", tmp_path / "none")
    at = open_app()
    assert any("No checkpoint folders found" in w.value for w in at.sidebar.warning)
    assert any("Choose a model" in i.value for i in at.info)
