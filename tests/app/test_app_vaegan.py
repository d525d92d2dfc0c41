"""The VAE/GAN on every page: Reconstruct labels its feature-space scores, the walk exports its decoder for live
decoding, the map draws its codes, and the loss lab adds the learned similarity from its discriminator (a value
the test recomputes from the discriminator's features directly) and says why LPIPS is not offered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support import checkpoints
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page


@pytest.fixture(scope="module")
def vaegan_dir(tmp_path_factory) -> Path:
    """A tiny VAE/GAN trained for one epoch on 256 mnist5k images, alone in its models folder."""
    root = tmp_path_factory.mktemp("vaegan-models")
    return checkpoints.build(root / "tiny-vaegan", "vaegan", "mnist5k", likelihood="gaussian", latent_dim=4,
                             channels=(8, 16), hidden_dim=32, dis_channels=(8, 16), dis_hidden=16)


@pytest.fixture
def vaegan_env(vaegan_dir, cache_dir, monkeypatch) -> Path:
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(vaegan_dir.parent))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    return vaegan_dir


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


def _learned_value(at, variant: str) -> float:
    table = next(d for d in at.dataframe if "learned_similarity" in d.value)
    rows = table.value
    return float(rows["learned_similarity"][list(rows["variant"]).index(variant)])


def test_every_page_works_for_a_vaegan(vaegan_env, cache_dir, media):
    at = open_app(vaegan_env)
    _clean(at, "sidebar")
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    image_by_caption(at, "reconstruction")
    labels = [m.label for m in at.metric]
    assert "ELBO (feature space)" in labels and "ELBO bits/dim" not in labels, labels
    assert any("no pixel likelihood" in c.value for c in at.caption)

    switch_page(at, "walk").run()
    _clean(at, "walk")
    assert sorted((cache_dir / "models").glob("*/decoder.onnx")), "the walk did not export the VAE/GAN's decoder"
    switch_page(at, "map").run()
    _clean(at, "map")
    assert at.main.children

    switch_page(at, "losslab").run()
    _clean(at, "losslab")
    ranking = [m.value for m in at.markdown if m.value.startswith("Learned similarity")]
    assert ranking and "one-pixel shift comes out" in ranking[0], [m.value for m in at.markdown]
    assert any("LPIPS" in c.value and "offline" in c.value for c in at.caption)

    # one value of the table recomputed here from the discriminator's features of the page's own images
    from explorer.analysis import losslab
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(vaegan_env, "cpu").eval()
    data = checkpoints.load("mnist5k")
    image = data.test[int(at.number_input(key="lab_example").value)][0]  # (1, 28, 28), the page's test item
    with torch.no_grad():
        recon = model.reconstruct(image[None])[0].numpy()
    background = np.zeros(1)  # mnist5k digits sit on black
    variants = losslab.make_variants(image.numpy().astype(np.float64), recon, (-1, 0), 1.0, background)
    with torch.no_grad():
        _, original = model.discriminator(torch.from_numpy(variants["original"]).float()[None])
        _, blurred = model.discriminator(torch.from_numpy(variants["blurred"]).float()[None])
    want = float((original - blurred).double().norm())
    assert _learned_value(at, "blurred") == pytest.approx(want, rel=1e-4)


def test_the_loss_lab_of_another_model_borrows_a_vaegan_discriminator(app_env, vaegan_dir, monkeypatch):
    import os

    monkeypatch.setenv("VAE_EXPLORER_MODELS", os.pathsep.join([str(app_env["tiny-conv-mnist5k"].parent),
                                                               str(vaegan_dir.parent)]))
    at = open_app(app_env["tiny-conv-mnist5k"], "losslab")
    _clean(at, "losslab of a conv model")
    # the shipped VAE/GAN is preferred where it is present, else the one in the models folder
    source = "vaegan-mnist5k" if (checkpoints.PRETRAINED / "vaegan-mnist5k" / "config.json").is_file() else "tiny-vaegan"
    assert any(f"discriminator of {source}" in c.value for c in at.caption), [c.value for c in at.caption]
    assert _learned_value(at, "shifted") > 0
    # a model of another image shape has no discriminator to borrow, and the page says so
    at = open_app(app_env["tiny-conv-patches"], "losslab")
    _clean(at, "losslab of a patches model")
    assert any(c.value.startswith("No learned similarity for this image") for c in at.caption)


@pytest.mark.slow
def test_every_page_works_for_the_shipped_vaegan(cache_dir, monkeypatch):
    shipped = checkpoints.shipped()
    if "vaegan-mnist5k" not in shipped or not (shipped["vaegan-mnist5k"] / "metrics.json").is_file():
        pytest.skip("pretrained/vaegan-mnist5k is not here")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(checkpoints.PRETRAINED))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    at = open_app(shipped["vaegan-mnist5k"])
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    assert "ELBO (feature space)" in [m.label for m in at.metric]
    for page in ("walk", "map", "losslab"):
        switch_page(at, page).run()
        _clean(at, page)
    assert any(m.value.startswith("Learned similarity") for m in at.markdown)
