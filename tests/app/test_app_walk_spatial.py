"""The spatial studio (ui/pages/walk/spatial.py): the walk on a model whose code is C x H x W shows the channel
grid, the PCA image, a full decode and the first-k-channel decode, and a region edit runs without error."""

from __future__ import annotations

import os

import pytest
from tests.support.apptest_helpers import data_never_encoded, errors, image_by_caption, open_app


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


def test_the_walk_on_a_spatial_model_opens_the_studio(app_env):
    if "tiny-pu" not in app_env:
        pytest.skip("tiny-pu was not built here")
    at = open_app(app_env["tiny-pu"], "walk")
    _clean(at, "open")
    assert [s.value for s in at.subheader][:1] == ["Channels"]
    at.radio(key="spatial_start").set_value("data set example").run()
    _clean(at, "start from an example")
    image_by_caption(at, "channel 0: mean ")
    image_by_caption(at, "PCA of the channel vectors as RGB")
    before = image_by_caption(at, "full decode")
    image_by_caption(at, "full decode with the first ")
    assert any(d.label.startswith("Per-channel mean and std") for d in at.get("download_button"))
    assert len(at.dataframe) == 1 and "std (image)" in at.dataframe[0].value.columns
    at.toggle(key="spatial_region_on").set_value(True).run()
    at.slider(key="spatial_axis_0").set_value(2.0).run()
    _clean(at, "region edit")
    assert image_by_caption(at, "full decode") != before
    at.number_input(key="spatial_sample_n").set_value(10).run()  # not a multiple of the encode batch
    _clean(at, "a 10-item sample")
    image_by_caption(at, "PCA of the channel vectors as RGB (components 1-3 over 10 items of ")
    at.slider(key="spatial_keep_k").set_value(1).run()
    _clean(at, "first channel only")
    image_by_caption(at, "full decode with the first 1 of ")


def test_the_start_picture_and_its_decode_come_before_the_data_set_is_encoded(app_env, monkeypatch):
    """The walk's first pictures are the item it starts from and its decode, drawn before data() encodes the data set
    (seconds an item for an SD-sized encoder): with data() failing, the page still shows both, for the item data()
    would give."""
    if "tiny-pu" not in app_env:
        pytest.skip("tiny-pu was not built here")
    at = open_app(app_env["tiny-pu"], "walk")
    at.radio(key="spatial_start").set_value("data set example").run()
    at.number_input(key="spatial_example").set_value(1).run()
    _clean(at, "item 1")
    shown = image_by_caption(at, "start image")
    decoded = image_by_caption(at, "start code (full decode)")

    data_never_encoded(monkeypatch)
    at.run()
    assert at.exception  # data() raised (the app redacts its message)
    assert image_by_caption(at, "start image") == shown
    assert image_by_caption(at, "start code (full decode)") == decoded


def test_the_studio_on_a_diffusers_autoencoder_kl(app_env, tmp_path, monkeypatch):
    pytest.importorskip("diffusers")
    from tests.support.foreign_models import make_kl

    make_kl(tmp_path / "kl", seed=1, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
            latent_channels=4, sample_size=16, scaling_factor=0.18215)
    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent), str(tmp_path)]))
    at = open_app(tmp_path / "kl", "walk")
    _clean(at, "open")
    image_by_caption(at, "channel 3: mean ")
    image_by_caption(at, "PCA of the channel vectors as RGB")
    image_by_caption(at, "linear preview")
    before = image_by_caption(at, "full decode")
    at.slider(key="spatial_axis_1").set_value(-1.5).run()
    _clean(at, "walk a direction")
    assert image_by_caption(at, "full decode") != before
