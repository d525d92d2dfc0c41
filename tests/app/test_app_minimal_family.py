"""A family that defines only encode and decode runs through train.py, the evaluate command and every page."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from tests.support.bad_files import digit_like, encode
from tests.support.minimal_family import MinimalVAE


@pytest.fixture(scope="module")
def minimal_run(tmp_path_factory):
    from explorer.cli.train import main as train
    from explorer.cli.evaluate import main as evaluate

    out = tmp_path_factory.mktemp("minimal") / "minimal-mnist5k"
    assert train(["--model", MinimalVAE.family, "--dataset", "mnist5k", "--latent-dim", "4", "--epochs", "1",
                  "--iwae-k", "5", "--maps", "pca", "--no-progress", "--no-tensorboard", "--out", str(out)]) == 0
    assert evaluate([str(out), "--dataset", "digits", "--image-size", "28", "--iwae-k", "5", "--maps", "pca",
                     "--no-progress"]) == 0
    return out


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


@pytest.mark.slow
def test_a_family_with_only_encode_and_decode_on_every_page(app_env, minimal_run, media, monkeypatch):
    assert (minimal_run / "model.safetensors").is_file() and (minimal_run / "eval" / "digits" / "metrics.json").is_file()
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent),
                                                               str(minimal_run.parent)]))
    at = open_app(minimal_run)
    _clean(at, "sidebar")
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    image_by_caption(at, "reconstruction")
    assert any(m.value.startswith("**Where it falls:**") for m in at.markdown)
    at.radio(key="rec_source").set_value("Upload images").run()
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    _clean(at, "reconstruct upload")
    for page in ("walk", "map", "losslab"):
        switch_page(at, page).run()
        _clean(at, page)
    # the evaluated data set is offered, and its stored scores stand in for the run's own
    at.selectbox(key=f"dataset@{minimal_run.name}").set_value("digits").run()
    _clean(at, "digits (evaluated)")
    # Compare offers the evaluated data set too, and reads the stored scores from it
    switch_page(at, "compare").run()
    at.multiselect(key="cmp_models").set_value([str(minimal_run), str(app_env["tiny-conv-mnist5k"])]).run()
    assert "digits (evaluated)" in at.selectbox(key="cmp_dataset").options
    at.selectbox(key="cmp_dataset").set_value("digits").run()
    _clean(at, "compare on digits (evaluated)")
    with pytest.raises(ValueError):
        switch_page(at, "captions")
