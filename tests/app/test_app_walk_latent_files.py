"""Latent files on the walk page: the code downloaded there and uploaded in a fresh session shows the same image and
the same URL; a code saved in the notebook starts the walk, as does a spatial code; bad files show their message and
the page keeps working."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.latent_files import LatentSpace, latents_bytes, load_latents
from tests.support.apptest_helpers import errors, image_by_caption, open_app

LINK = ("model", "start", "axes", "n", "v")


@pytest.fixture
def deferred(monkeypatch) -> list:
    """The media file managers of the AppTest runs: a download button's deferred data is made by them on request."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.testing.v1 import app_test

    managers: list = []

    class Recording(MediaFileManager):
        def __init__(self, storage):
            super().__init__(storage)
            managers.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", Recording)
    return managers


def _download(at, deferred, media, label: str) -> bytes:
    button = next(b for b in at.get("download_button") if b.label == label)
    return media.get(deferred[-1].execute_deferred(button.proto.deferred_file_id))


def _link(at) -> dict[str, str]:
    return {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k] for k in LINK}


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="walk_latent_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_downloaded_code_uploaded_in_a_fresh_session_shows_the_same_image_and_url(conv_model, media, deferred):
    at = open_app(conv_model, "walk")
    at.radio(key="walk_start").set_value("data set example").run()
    at.number_input(key="walk_example").set_value(3).run()
    next(s for s in at.slider if s.key and s.key.startswith("walk:")).set_value(1.5).run()
    image, link = media.get(image_by_caption(at, "decoded mean")), _link(at)
    data = _download(at, deferred, media, "Code (latent file)")
    model, digest = from_pretrained(conv_model), weights_digest(conv_model)
    saved = load_latents(data, model, digest=digest)  # what the notebook reads back
    assert saved.walk["start"] == "item:3" and saved.walk["v"] == link["v"] and saved.axes.kind == "dims"

    fresh = _upload(open_app(conv_model, "walk"), "code.safetensors", data)
    assert not errors(fresh)
    assert _link(fresh) == link and media.get(image_by_caption(fresh, "decoded mean")) == image

    # the same code saved in the notebook with no walk state: the walk starts at it, the sliders at zero
    plain = _upload(fresh, "nb.safetensors", latents_bytes(saved.code, model, digest=digest))
    assert plain.radio(key="walk_start").value == "latent file" and "start" not in plain.query_params
    assert np.allclose(plain.session_state["walk_code"], saved.code, atol=1e-6)
    assert media.get(image_by_caption(plain, "decoded mean")) == image


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_bad_uploads_show_their_message_and_the_page_keeps_working(conv_model, media):
    at = open_app(conv_model, "walk")
    model = from_pretrained(conv_model)
    other = LatentSpace("f" * 64, tuple(model.latent_shape))
    good = latents_bytes(np.zeros(model.latent_shape), other, walk={"start": "item:3", "axes": "dims", "n": "2", "v": "1,0"})
    for name, data, said in [("cut.safetensors", good[:-5], "not a complete safetensors file"),
                             ("obj.npy", _npy(np.array([{"a": 1}], dtype=object)), "pickles are never loaded"),
                             ("p.npy", pickle.dumps(np.zeros(3)), "pickle"),
                             ("shape.npy", _npy(np.zeros((3, 7), np.float32)), "shape (3, 7) does not fit"),
                             ("other.safetensors", good, "f" * 16)]:
        _upload(at, name, data)
        shown = " ".join(errors(at))
        assert said in shown and name in shown, (name, shown)
        assert media.get(image_by_caption(at, "decoded mean"))  # the walk is still there
    assert weights_digest(conv_model)[:16] in shown  # another model's file names both digests
    at.checkbox(key="walk_latent_force").check().run()  # load it anyway: the shapes agree
    # its link would encode item 3 with this model, not give the file's code: the walk starts at the code itself
    assert not errors(at) and at.radio(key="walk_start").value == "latent file"
    assert any("forced" in i.value for i in at.info) and not np.asarray(at.session_state["walk_code"]).any()


def test_a_spatial_code_downloaded_and_uploaded_back_becomes_the_start(app_env, media, deferred):
    if "tiny-pu" not in app_env:
        pytest.skip("tiny-pu was not built here")
    at = open_app(app_env["tiny-pu"], "walk")
    at.slider(key="spatial_axis_0").set_value(2.0).run()
    walked = media.get(image_by_caption(at, "full decode"))
    data = _download(at, deferred, media, "Code (latent file)")
    at.file_uploader(key="spatial_latent_upload").set_value(("s.safetensors", data, "application/octet-stream")).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.radio(key="spatial_start").value == "latent file" and at.slider(key="spatial_axis_0").value == 0.0
    assert media.get(image_by_caption(at, "start code (full decode)")) == walked  # the walked code, now the start
