"""LatentWalk's Python side without a browser: the page's messages (release, need, status) and `.code` set here,
on the shipped conv-mnist5k (the page side: tests/browser/test_notebook_walk.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import traitlets

from explorer.frontend_assets import asset_bytes
from explorer.latent import walk_code
from explorer.notebook import LatentWalk
from explorer.notebook.walk import ORT_PARTS, as_axes

MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "conv-mnist5k"


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return LatentWalk(MODEL, cache_dir=tmp_path_factory.mktemp("onnx"))


def release(w: LatentWalk, values: list[float]) -> None:
    w._message(w, {"type": "set", "name": "released", "value": {"model_key": w.data["model_key"], "values": values}}, [])


def test_release_sets_code_and_calls_on_change(walk):
    seen = []
    handler = walk.on_change(seen.append)
    values = np.random.default_rng(0).uniform(-2, 2, len(walk.axes)).tolist()
    release(walk, values)
    walk.unobserve(handler, names="code")
    want = walk_code(np.asarray(walk.data["start"]), walk._axes_now(), values)
    np.testing.assert_allclose(walk.code.reshape(-1), want, atol=1e-6)
    assert walk.code.shape == walk.latent_shape and len(seen) == 1
    np.testing.assert_allclose(walk.values, values)


def test_setting_code_moves_sliders_and_start(walk):
    code = np.random.default_rng(1).standard_normal(walk.latent_shape).astype(np.float32)
    walk.code = code
    rebuilt = np.asarray(walk.data["start"]) + (walk.values * np.asarray(walk.data["scales"])) @ np.asarray(walk.data["vectors"])
    np.testing.assert_allclose(rebuilt, code.reshape(-1), atol=1e-5)
    np.testing.assert_allclose(walk.values, code.reshape(-1)[: len(walk.axes)], atol=1e-5)  # default axes: dims
    assert walk.image.dtype == np.uint8 and walk.image.shape == tuple(walk.data["image_shape"][1:])


def test_page_gets_the_runtime_as_buffers(walk, monkeypatch):
    sent = []
    monkeypatch.setattr(walk, "send", lambda content, buffers=None: sent.append((content, buffers)))
    walk._message(walk, {"type": "need", "keys": list(ORT_PARTS)}, [])
    (content, buffers), = sent
    assert content == {"type": "parts", "keys": list(ORT_PARTS)}
    assert [bytes(b) for b in buffers] == [asset_bytes(k) for k in ORT_PARTS]
    assert len(json.dumps(walk.data)) < 20_000  # the synced state holds no bytes: a saved notebook stays small


def test_status_message(walk):
    walk._message(walk, {"type": "set", "name": "status", "value": {"path": "fallback", "reason": "no wasm"}}, [])
    assert (walk.path, walk.reason) == ("fallback", "no wasm")


def test_bad_inputs_say_what_is_accepted(walk):
    with pytest.raises(TypeError, match="folder or file"):
        LatentWalk(42)
    with pytest.raises(ValueError, match="start must hold"):
        LatentWalk(walk.model, start=np.zeros(3))
    with pytest.raises(ValueError, match="axes must be"):
        as_axes(np.zeros((2, 5)), walk.latent_shape)
    before = walk.code.copy()
    with pytest.raises(traitlets.TraitError, match=".code must hold"):
        walk.code = np.zeros(3)
    np.testing.assert_array_equal(walk.code, before)


def _png_pixels(url: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_the_kernel_decodes_where_the_page_would_be_too_slow(tmp_path, monkeypatch):
    """decode_in="kernel" (and "auto" for a decoder whose frames would be too slow in the page: an SD-sized one):
    no decoder part is offered, the page is told why, and each release or code set here sends the kernel's decode."""
    w = LatentWalk(MODEL, cache_dir=tmp_path, decode_in="kernel")
    assert w.kernel_reason and w.data["page_reason"] == w.kernel_reason
    assert w.data["parts"] == {} and w.digest[:16] not in w.parts
    assert (_png_pixels(w.data["server_image"]) == w.image).all()  # the start code's decode
    release(w, [1.5] + [0.0] * (len(w.axes) - 1))
    assert (_png_pixels(w.data["server_image"]) == w.image).all()
    first = w.data["server_image"]
    w.code = np.random.default_rng(2).standard_normal(w.latent_shape).astype(np.float32)
    assert w.data["server_image"] != first and (_png_pixels(w.data["server_image"]) == w.image).all()
    # "auto": the page decodes conv-mnist5k (a frame well under 100 ms), not a decoder whose frames take seconds
    assert "page_reason" not in LatentWalk(MODEL, cache_dir=tmp_path).data
    monkeypatch.setattr("explorer.notebook.walk.decode_seconds", lambda model: 15.0)  # SD 1.x at 512 px: about that
    slow = LatentWalk(MODEL, cache_dir=tmp_path)
    assert slow.data["page_reason"].startswith("a frame would take about 30.0 s in the page, over 100 ms")
    with pytest.raises(ValueError, match="decode_in: 'gpu'; accepted: 'auto', 'page', 'kernel'"):
        LatentWalk(MODEL, cache_dir=tmp_path, decode_in="gpu")
