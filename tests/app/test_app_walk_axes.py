"""Attribute directions on the walk: "3 → 8" sliders for labelled data, "Smiling" / "Eyeglasses" sliders for
CelebA's attributes, on the server path and as the live component's direction vectors, kept in the link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from tests.support.apptest_helpers import errors, image_by_caption, open_app
from test_app_walk_url import _open_link


def _axis_sliders(at):
    return [s for s in at.slider if s.key and s.key.startswith("walk:")]


def _class_means(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint's stored test means (N, D) and labels (N,): what the app's data view reads."""
    arrays = load_file(str(folder / "analysis.safetensors"))
    return arrays["test_means"].astype(np.float64), arrays["test_labels"]


def _pick_classes(at, a: int, targets: list[int]):
    at.radio(key="walk_axes").set_value("attribute directions").run()
    at.selectbox(key="walk_dir_from").set_value(a).run()
    at.multiselect(key="walk_dir_to").set_value(targets).run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    return at


def test_class_directions_move_the_code_between_class_means(conv_model, media):
    at = _pick_classes(open_app(conv_model, "walk"), 3, [8, 5])
    assert [s.label for s in _axis_sliders(at)] == ["3 → 8", "3 → 5"]
    means, labels = _class_means(conv_model)
    start = np.asarray(at.session_state["walk_code"])
    np.testing.assert_allclose(start, 0.0)  # the prior mean, sliders at 0
    before = media.get(image_by_caption(at, "decoded mean"))
    _axis_sliders(at)[0].set_value(1.0).run()
    shift = means[labels == 8].mean(0) - means[labels == 3].mean(0)  # slider unit: the whole distance
    np.testing.assert_allclose(at.session_state["walk_code"], shift, rtol=1e-6, atol=1e-8)
    assert media.get(image_by_caption(at, "decoded mean")) != before
    assert any("Directions between group averages" in c.value for c in at.caption)
    assert [o for o in at.selectbox(key="walk_gif_axis").options] == ["3 → 8", "3 → 5"]


def test_class_direction_link_reproduces_the_walk(conv_model, media):
    at = _pick_classes(open_app(conv_model, "walk"), 3, [8])
    at.radio(key="walk_start").set_value("data set example").run()
    at.number_input(key="walk_example").set_value(2).run()
    _axis_sliders(at)[0].set_value(0.7).run()
    image = media.get(image_by_caption(at, "decoded mean"))
    link = {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in ("model", "start", "axes", "dirs", "n", "v")}
    assert (link["axes"], link["dirs"], link["n"], link["v"], link["start"]) == ("attr", "3>8", "1", "0.7", "item:2")
    fresh = _open_link(link)
    assert not errors(fresh)
    assert [(s.label, s.value) for s in _axis_sliders(fresh)] == [("3 → 8", 0.7)]
    assert media.get(image_by_caption(fresh, "decoded mean")) == image  # same link, same bytes


def test_a_link_with_unknown_directions_says_so(conv_model, media):
    fresh = _open_link({"model": conv_model.name, "axes": "attr", "dirs": "3>8,3>42,5>1", "n": "2", "v": "1,1"})
    notes = " ".join(w.value for w in fresh.warning)
    assert "several classes" in notes and "42" in notes and "not in this data set" in notes, notes
    assert [s.label for s in _axis_sliders(fresh)] == ["3 → 8"]
    assert media.get(image_by_caption(fresh, "decoded mean"))


def test_the_live_component_gets_the_direction_vectors(conv_model, monkeypatch):
    import ui.shared.walk_panel as walk_panel

    seen = []
    real = walk_panel.live_latent

    def spy(key, decoder, model_key, start, vectors, scales, labels, values, *args, **kwargs):
        seen.append((np.asarray(vectors), np.asarray(scales), list(labels)))
        return real(key, decoder, model_key, start, vectors, scales, labels, values, *args, **kwargs)

    monkeypatch.setattr(walk_panel, "live_latent", spy)  # where the walk panel finds it
    at = _pick_classes(open_app(conv_model, "walk"), 3, [8])
    assert seen, "the walk did not render the live component"
    vectors, scales, labels = seen[-1]
    means, classes = _class_means(conv_model)
    shift = means[classes == 8].mean(0) - means[classes == 3].mean(0)
    assert labels == ["3 → 8"]
    np.testing.assert_allclose(vectors[0] * scales[0], shift, rtol=1e-6, atol=1e-8)
    assert any(c.value.startswith("Decoding on the server (the in-browser decoder is loading)") for c in at.caption)


# -- CelebA's attributes, on tiny files in its real layout ------------------------------------------------
PARTITION = [0] * 6 + [2] * 12  # 6 train, 12 test items


@pytest.fixture
def celeba_model(tmp_path, cache_dir, monkeypatch) -> tuple[Path, Path, np.ndarray]:
    """An untrained small mlp on tiny CelebA files (16x16), alone in its models folder; (folder, data root,
    attributes (12, 40) 0/1 of the test items)."""
    import torch
    import torchvision.datasets as tvd

    from data.test_celeba import NAMES, write_celeba
    from explorer.checkpoint import save_pretrained
    from explorer.models.registry import build_model

    monkeypatch.setattr(tvd.celeba, "check_integrity", lambda *args, **kwargs: True)  # the list files are ours
    attrs = -np.ones((len(PARTITION), 40), dtype=np.int64)
    test = np.flatnonzero(np.array(PARTITION) == 2)
    attrs[test[::2], NAMES.index("Smiling")] = 1  # every other test face smiles
    attrs[test[:3], NAMES.index("Eyeglasses")] = 1  # three wear glasses
    root = tmp_path / "data"
    write_celeba(root, partition=PARTITION, attrs=attrs)
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(3, 16, 16), latent_dim=4, hidden_sizes=(16,), likelihood="gaussian")
    meta = {"name": "celeba", "options": {"root": str(root), "image_size": 16}, "classes": None}
    folder = tmp_path / "models" / "tiny-celeba"
    save_pretrained(model, folder, extra={"dataset": meta, "summary": "untrained mlp on tiny CelebA (test)"})
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(folder.parent))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    return folder, root, (attrs[test] + 1) // 2


def test_celeba_attribute_sliders_are_with_minus_without(celeba_model, media):
    import torch

    from explorer.checkpoint import from_pretrained
    from explorer.data import load_dataset
    from explorer.data.base import stack_images

    folder, root, attrs = celeba_model
    at = open_app(folder, "walk")
    at.radio(key="walk_axes").set_value("attribute directions").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    assert at.multiselect(key="walk_dir_attrs").value == ["Smiling", "Eyeglasses"]  # offered first
    assert [s.label for s in _axis_sliders(at)] == ["Smiling", "Eyeglasses"]
    before = media.get(image_by_caption(at, "decoded mean"))
    _axis_sliders(at)[1].set_value(1.0).run()
    # the reference: the test faces encoded here, mean with glasses minus mean without
    images, _ = stack_images(load_dataset("celeba", root=str(root), image_size=16).test)
    model = from_pretrained(folder, "cpu")
    with torch.inference_mode():
        codes = model.encode(images).mean.flatten(1).double().numpy()
    glasses = attrs[:, 15].astype(bool)
    np.testing.assert_allclose(at.session_state["walk_code"], codes[glasses].mean(0) - codes[~glasses].mean(0),
                               rtol=1e-4, atol=1e-6)
    assert media.get(image_by_caption(at, "decoded mean")) != before
    link = {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in ("model", "axes", "dirs", "n", "v")}
    assert (link["axes"], link["dirs"], link["v"]) == ("attr", "Smiling,Eyeglasses", "0,1")
    fresh = _open_link({**link, "dirs": "Smiling,Eyeglasses,Wings"})
    assert any("Wings" in w.value and "not in this data set" in w.value for w in fresh.warning)
    assert [(s.label, s.value) for s in _axis_sliders(fresh)] == [("Smiling", 0.0), ("Eyeglasses", 1.0)]
    assert media.get(image_by_caption(fresh, "decoded mean")) == media.get(image_by_caption(at, "decoded mean"))

