"""A conditional model (cvae) on every page: a class picker in the sidebar, Reconstruct reads an image as a
class, writes it as another, and draws samples of a class; walk, map and loss lab decode under the sidebar's
class. Every model call still runs on the inference thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.support import checkpoints
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from tests.support.bad_files import digit_like, encode


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


def _every_page(at) -> None:
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    for page in ("walk", "map", "losslab"):
        switch_page(at, page).run()
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


@pytest.mark.slow  # ~10 s: an ONNX export per class, three walk sessions
def test_walk_decodes_under_a_class_with_style_class_grid_and_class_samples(cvae_env, media, cache_dir):
    """The walk's class picker: the walk decodes under that class (the live decoder is exported under it and
    agrees with torch), the style × class grid is every style decoded under every class, and samples of a
    class are prior draws decoded under it. The class rides in the link."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from explorer.checkpoint import from_pretrained
    from explorer.images import display_scale, make_grid, to_uint8
    from explorer.latent import prior_draw
    from test_app_walk_url import _open_link

    at = open_app(cvae_env, "walk")
    assert at.selectbox(key="walk_class").value == 0  # the sidebar's class
    under_0 = media.get(image_by_caption(at, "decoded mean"))
    at.selectbox(key="walk_class").set_value(7).run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    assert media.get(image_by_caption(at, "decoded mean")) != under_0
    assert any("decoded under class 7" in c.value for c in at.caption)
    model = from_pretrained(cvae_env, "cpu")
    k, d = 10, 6
    # style x class: row 1 the walk's code (the prior mean here), rows 2-4 prior draws of seeds 0-2
    codes = np.stack([np.zeros(d)] + [prior_draw((d,), s) for s in range(3)])
    with torch.inference_mode():  # one decode per (style, class): the reference does not batch as the page does
        ref = torch.cat([model.decode_code(torch.tensor(z, dtype=torch.float32)[None], condition=c)
                         for z in codes for c in range(k)])
    tile = make_grid(ref, nrow=k)
    expected = to_uint8(tile, display_scale(*tile.shape[-2:], 640))
    np.testing.assert_array_equal(media.array(image_by_caption(at, "Style × class")), expected)
    # the in-page decoder of class 7 exists and draws what torch draws under class 7
    onnx = sorted((cache_dir / "models").glob("*-class7/decoder.onnx"))
    assert onnx, sorted(p.parent.name for p in (cache_dir / "models").glob("*/decoder.onnx"))
    z = np.stack([np.zeros(d), prior_draw((d,), 5)]).astype(np.float32)
    got = ort.InferenceSession(str(onnx[0]), providers=["CPUExecutionProvider"]).run(None, {"code": z})[0]
    with torch.inference_mode():
        want = model.decode_code(torch.from_numpy(z), condition=7).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    # class-conditional samples: z ~ N(0, I) with the seed, decoded under the chosen class
    at.selectbox(key="walk_sample_class").set_value(3).run()
    first = media.array(image_by_caption(at, "3 #1"))
    with torch.inference_mode():
        drawn = model.sample(8, generator=torch.Generator().manual_seed(0), condition=3)
    np.testing.assert_array_equal(first, to_uint8(drawn[0], display_scale(28, 28, 56)))
    at.selectbox(key="walk_sample_class").set_value(4).run()
    assert not np.array_equal(media.array(image_by_caption(at, "4 #1")), first)  # same seed, another class
    # a data set example is read as its own class: its code is the style alone
    at.radio(key="walk_start").set_value("data set example").run()
    at.number_input(key="walk_example").set_value(4).run()
    x, label = checkpoints.load("mnist5k").test[4]
    with torch.inference_mode():
        own = model.encode_code(x[None].float(), condition=int(label))[0].numpy()
    np.testing.assert_allclose(at.session_state["walk_code"], own, atol=1e-5)
    assert any("read as its own class" in c.value for c in at.caption)
    # the link keeps the class
    assert at.query_params["class"] in ("7", ["7"])
    link = {key: at.query_params[key][0] if isinstance(at.query_params[key], list) else at.query_params[key]
            for key in ("model", "start", "axes", "n", "v", "class")}
    fresh = _open_link(link)
    assert fresh.selectbox(key="walk_class").value == 7
    assert media.get(image_by_caption(fresh, "decoded mean")) == media.get(image_by_caption(at, "decoded mean"))


def test_draw_for_a_cvae_encodes_under_the_picked_class(cvae_env, cache_dir):
    """Reconstruct's Draw input for a conditional model: a class picker above the canvas; the in-page encoder
    is exported under that class (one file per class) and agrees with torch's encoder under it."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from explorer.checkpoint import from_pretrained
    from ui.pages.reconstruct.draw import CLASS_KEY

    at = open_app(cvae_env)
    assert "Draw" in at.radio(key="rec_source").options
    at.radio(key="rec_source").set_value("Draw").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    at.selectbox(key=CLASS_KEY).set_value(4).run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    onnx = sorted((cache_dir / "models").glob("*-class4/encoder.onnx"))
    assert onnx, sorted(p.parent.name for p in (cache_dir / "models").glob("*/encoder.onnx"))
    session = ort.InferenceSession(str(onnx[0]), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    model = from_pretrained(cvae_env, "cpu")
    with torch.inference_mode():
        want = model.encode_code(torch.from_numpy(x), condition=4).numpy()
        other = model.encode_code(torch.from_numpy(x), condition=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(want - other).max() > 1e-3  # the class matters, so the check above is not vacuous
