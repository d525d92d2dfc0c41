"""A conditional model (cvae) on every page: a class picker in the sidebar, Reconstruct reads an image as a
class, writes it as another, and draws samples of a class; walk, map and loss lab decode under the sidebar's
class. Every model call still runs on the inference thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

import checkpoints
from apptest_helpers import errors, image_by_caption, open_app
from bad_files import digit_like, encode


@pytest.fixture(scope="module")
def cvae_dir(tmp_path_factory) -> Path:
    """A tiny cvae (conv body) trained for one epoch on 256 mnist5k images, alone in its models folder."""
    root = tmp_path_factory.mktemp("cvae-models")
    data = checkpoints.load("mnist5k")
    checkpoints.build(root / "tiny-cvae", "cvae", "mnist5k", latent_dim=6, channels=(8, 16), hidden_dim=32,
                      n_classes=len(data.classes), class_names=tuple(data.classes))
    return root / "tiny-cvae"


@pytest.fixture
def cvae_env(cvae_dir, cache_dir, monkeypatch) -> Path:
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(cvae_dir.parent))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    return cvae_dir


@pytest.fixture
def threads(monkeypatch) -> list[str]:
    """The thread of every module call of the models the app loads during the test."""
    import streamlit as st

    import explorer.checkpoint
    from ui.catalogue import _load_model

    seen: list[str] = []
    real = explorer.checkpoint.from_pretrained

    def guarded(*args, **kwargs):
        model = real(*args, **kwargs)
        for m in model.modules():
            m.register_forward_pre_hook(lambda module, a: seen.append(threading.current_thread().name))
        return model

    monkeypatch.setattr(explorer.checkpoint, "from_pretrained", guarded)
    _load_model.clear()
    st.cache_data.clear()
    yield seen
    _load_model.clear()
    st.cache_data.clear()


def _every_page(at) -> None:
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    for page in ("walk", "map", "losslab"):
        at.switch_page(f"ui/pages/{page}.py").run()
        assert not at.exception and not errors(at), (page, [e.value for e in at.exception] + errors(at))
        assert at.main.children, page


def test_every_page_works_for_a_cvae(cvae_env, threads):
    at = open_app(cvae_env)
    assert at.selectbox(key="condition@tiny-cvae").value == 0  # the sidebar's class
    # Reconstruct a test item: read as its own label by default, then written as another class
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    label = int(checkpoints.load("mnist5k").test[0][1])
    assert at.selectbox(key="rec_class:ex0").value == label
    assert any(m.label == "ELBO" for m in at.metric)
    at.selectbox(key="rec_as:ex0").set_value(7).run()
    image_by_caption(at, "written as 7")
    image_by_caption(at, "reconstruction (posterior mean, class")
    # samples of a class
    at.selectbox(key="rec_sample_class").set_value(3).run()
    image_by_caption(at, "3 #1")
    # an upload is read as class 0 unless another is picked
    at.radio(key="rec_source").set_value("Upload images").run()
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    assert at.selectbox(key="rec_class:up0").value == 0
    at.selectbox(key="rec_class:up0").set_value(5).run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    # the other pages under another sidebar class
    at.selectbox(key="condition@tiny-cvae").set_value(4).run()
    _every_page(at)
    assert len(threads) > 20 and all(t.startswith("vae-inference") for t in threads), sorted(set(threads))


@pytest.mark.slow
def test_every_page_works_for_the_shipped_cvae(cache_dir, monkeypatch):
    shipped = checkpoints.shipped()
    if "cvae-mnist5k" not in shipped:
        pytest.skip("pretrained/cvae-mnist5k is not here")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(checkpoints.PRETRAINED))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(cache_dir))
    at = open_app(shipped["cvae-mnist5k"])
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    image_by_caption(at, "written as")
    _every_page(at)
