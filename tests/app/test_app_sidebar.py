"""Sidebar: model picker (summaries, metrics, broken folders), device picker, data set picker, --models."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.analysis.collapse import stored_verdict
from tests.support import checkpoints
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


def _with_metrics(src: Path, out: Path, kl_per_dim: list[float], active: int) -> Path:
    """A copy of the model folder `src` whose metrics.json holds these figures and no stored verdict (as written
    before the verdict existed), so the sidebar judges them itself."""
    shutil.copytree(src, out)
    metrics = json.loads((src / "metrics.json").read_text())
    metrics.pop("collapse", None)
    metrics.update(kl_per_dim=kl_per_dim, kl_nats=sum(kl_per_dim), active_units=active, latent_dims=len(kl_per_dim))
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


def _collapse_notes(at) -> list[str]:
    return [w.value for w in at.sidebar.warning if "Posterior collapse" in w.value]


def test_a_collapsed_model_is_warned_about_beside_it_and_a_healthy_one_is_not(app_env, tmp_path, monkeypatch):
    src = app_env["tiny-conv-mnist5k"]  # an 8-dimensional code
    rng = np.random.default_rng(0)
    collapsed = _with_metrics(src, tmp_path / "collapsed-conv", list(rng.uniform(0.02, 0.14, 8)), active=6)
    healthy = _with_metrics(src, tmp_path / "healthy-conv", list(rng.uniform(1.0, 3.0, 8)), active=8)
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(tmp_path))
    at = open_app(collapsed)
    notes = _collapse_notes(at)
    assert len(notes) == 1, [w.value for w in at.sidebar.warning]
    verdict = stored_verdict(json.loads((collapsed / "metrics.json").read_text()), spatial=False)
    # both measures: the total KL and the dimensions over 0.1 nats, and the active units; and the remedies
    assert f"{verdict['kl_nats']:.2f} nats" in notes[0] and "under ln 10" in notes[0]
    assert f"{verdict['informative_dims']} of 8 dimensions" in notes[0] and "6 are active" in notes[0]
    for remedy in ("--warmup-epochs", "--free-bits", "--beta", "--epochs"):
        assert remedy in notes[0]
    at.selectbox(key="model_folder").set_value(str(healthy)).run()
    assert not at.exception and not _collapse_notes(at)


def _spatial(folder: Path) -> bool:
    from explorer.checkpoint import read_config
    from explorer.models.registry import family_capabilities

    saved = read_config(folder)
    return family_capabilities(saved["family"], saved["config"]).code_kind != "vector"


@pytest.mark.parametrize("name", sorted(checkpoints.shipped()))
def test_every_shipped_model_is_silent(name):
    """The sidebar's verdict on each shipped model is silent, as judged once torch is loaded (the code's kind
    known) and on a fresh server's first run (not known yet)."""
    folder = checkpoints.shipped()[name]
    path = folder / "metrics.json"
    if not path.is_file():  # a diffusers folder (kl-f4-photos) has no figures to judge
        assert stored_verdict({}, spatial=True) is None
        return
    metrics = json.loads(path.read_text())
    for spatial in {_spatial(folder), True}:
        verdict = stored_verdict(metrics, spatial=spatial)
        assert verdict is None or not verdict["collapsed"], (name, verdict)
