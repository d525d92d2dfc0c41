"""Models trained elsewhere (like diffusers' AutoencoderKL): no "dataset" in config.json, no metrics.json, no
analysis.safetensors, maybe a spatial (C, H, W) code. Every page still shows its content with the data set
picked in the sidebar; and a 'pu' checkpoint without a caption head gets no Captions page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from tests.support import checkpoints
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from tests.support.bad_files import digit_like, encode


@pytest.fixture(scope="module")
def stripped(models, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained-elsewhere")
    names = [n for n in ("tiny-conv-mnist5k", "tiny-captioner", "tiny-pu") if n in models]
    return {n: checkpoints.without_own_data(models[n], root / f"{n}-bare") for n in names}


@pytest.fixture
def bare_env(app_env, stripped, monkeypatch) -> dict[str, Path]:
    dirs = [str(app_env["tiny-conv-mnist5k"].parent), str(next(iter(stripped.values())).parent)]
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join(dirs))
    return stripped


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


def _vector_walk(at) -> None:
    image_by_caption(at, "decoded mean")
    assert any("stores no KL per dimension" in c.value for c in at.caption)
    sliders = [s for s in at.slider if s.key.startswith("walk:")]
    assert sliders and not any("KL" in s.label for s in sliders)
    at.radio(key="walk_start").set_value("data set example").run()
    _clean(at, "walk from an example")
    at.radio(key="walk_axes").set_value("principal directions").run()
    _clean(at, "walk principal directions")


@pytest.mark.parametrize("name", ["tiny-conv-mnist5k", "tiny-captioner", "tiny-pu"])
def test_every_page_works_without_the_models_own_data(bare_env, media, name):
    if name not in bare_env:
        pytest.skip(f"{name} was not built here")
    at = open_app(bare_env[name])
    fits = {"tiny-pu": "patches"}.get(name, "mnist5k")  # the embedded set whose images fit the model comes first
    assert at.selectbox(key=f"dataset@{name}-bare").value == fits  # a data set picked for it
    _clean(at, "sidebar")
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    image_by_caption(at, "reconstruction")
    image_by_caption(at, "−log p(x | z) per pixel at z = posterior mean; sums to")
    assert any("stores no per-item test scores" in c.value for c in at.caption)
    assert any(c.value.startswith("Likelihood: ") for c in at.caption)
    at.radio(key="rec_source").set_value("Upload images").run()
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    _clean(at, "reconstruct upload")
    assert any(m.label == "ELBO" for m in at.metric)

    switch_page(at, "walk").run()
    _clean(at, "walk")
    if name != "tiny-conv-mnist5k":  # both spatial-code stand-ins get the studio (test_app_walk_spatial.py)
        at.radio(key="spatial_start").set_value("data set example").run()
        _clean(at, "spatial walk from an example")
        image_by_caption(at, "full decode")
    else:
        _vector_walk(at)

    switch_page(at, "map").run()
    _clean(at, "map")
    assert any(f"test items of {fits}" in c.value for c in at.caption)
    switch_page(at, "losslab").run()
    _clean(at, "loss lab")
    assert len(at.dataframe) == 1 and any(s.value.startswith("Ranking") for s in at.subheader)
    if name != "tiny-conv-mnist5k":  # both spatial-code stand-ins caption
        switch_page(at, "captions").run()
        _clean(at, "captions")
        assert any(m.value.startswith("**Greedy:**") for m in at.markdown)


def test_pu_without_a_caption_head_gets_no_captions_page(app_env, tmp_path, monkeypatch):
    folder = checkpoints.build_pu_without_captions(tmp_path / "pu-no-vocab")
    if folder is None:
        pytest.skip("the pu family is not here")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent), str(tmp_path)]))
    at = open_app(folder)
    assert not errors(at), errors(at)
    assert any(t.value == "Reconstruct" for t in at.title)
    with pytest.raises(ValueError):
        switch_page(at, "captions")
    if "tiny-pu" in app_env:  # the same family with a vocabulary does get it
        at = open_app(app_env["tiny-pu"], "captions")
        assert any(t.value == "Captions" for t in at.title)
