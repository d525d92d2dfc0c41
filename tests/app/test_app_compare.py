"""The Compare page with the shipped mnist5k models and a model trained elsewhere (the ONNX pair at 1x28x28):
the same test item reconstructed by each (a cvae under its label or a picked class), the same prior seed decoded
by each, metrics side by side (stored, or scored here as the evaluate command scores), KL bar charts, PCA maps
aligned to the first by Procrustes analysis, and the loss lab's ranking of each reconstruction. A model with
another image shape is refused with a message naming both shapes. Every model call runs on the inference thread.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import checkpoints
from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from tests.support.bad_files import digit_like, encode

pytest.importorskip("onnxruntime")

from tests.support.compare_models import onnx_models_folder  # noqa: E402  (the ONNX pair of tests/support/foreign_models.py)

SHIPPED = ("conv-mnist5k", "mlp-mnist5k-2d", "cvae-mnist5k", "conv-iaf-mnist5k")


@pytest.fixture(scope="module")
def onnx_root() -> Path:
    return onnx_models_folder()


@pytest.fixture
def shipped_env(tmp_path, monkeypatch) -> None:
    """pretrained/ (always listed) and nothing else; a private cache."""
    missing = [n for n in SHIPPED + ("conv-patches",) if n not in checkpoints.shipped()]
    if missing:
        pytest.fail(f"shipped checkpoints missing from pretrained/: {missing}")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", "")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def compare_env(shipped_env, onnx_root, monkeypatch) -> Path:
    """pretrained/ plus the ONNX pair."""
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(onnx_root))
    return onnx_root


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


def _table(at, column: str):
    """The table with this column (the metrics table: 'figures from'; the loss lab's: 'order by MSE')."""
    return next(d.value for d in at.table if column in d.value.columns)


def _charts(at, prefix: str) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"-{prefix}:" in c.proto.id]


def _values(v) -> np.ndarray:
    """A Plotly trace's x or y: a list, or a typed array {'dtype', 'bdata'} (plotly >= 6)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).astype(np.float64)
    return np.asarray(v, dtype=np.float64)


def _map_points(spec: dict) -> np.ndarray:
    """(N, 2) coordinates of a map chart, in item order (customdata holds each point's item index)."""
    items = np.concatenate([_values(t["customdata"]) for t in spec["data"]]).astype(int)
    xy = np.concatenate([np.stack([_values(t["x"]), _values(t["y"])], 1) for t in spec["data"]])
    out = np.empty_like(xy)
    out[items] = xy
    return out


@pytest.mark.slow
def test_compare_shipped_and_foreign_models_side_by_side(compare_env, threads):
    from explorer.analysis.align import procrustes_align
    from explorer.pca import fit_pca
    from explorer.analysis.store import load_analysis

    at = open_app(None, "compare")
    picked = ["conv-mnist5k", "mlp-mnist5k-2d", "cvae-mnist5k", "onnx-mnist"]
    at.multiselect(key="cmp_models").set_value(picked).run()
    _clean(at, "four models")
    # the same test item, reconstructed by each; the cvae reads it under the item's own label (item 0 is a 2)
    assert at.number_input(key="cmp_item").value == 0
    cvae_class = next(s for s in at.selectbox if str(s.key).startswith("cmp_class:"))
    assert cvae_class.value == 2
    urls = [image_by_caption(at, f"reconstruction by {name}") for name in picked]
    assert len(set(urls)) == 4  # four different reconstructions
    assert "class 2" in next(c for e in at.get("image") for c in e.captions if c.startswith("reconstruction by cvae"))
    cvae_class.set_value(7).run()
    assert image_by_caption(at, "reconstruction by cvae-mnist5k, class 7") != urls[2]
    # the same prior seed, each model's own prior: one row of samples per model
    for name in picked:
        image_by_caption(at, f"{name} #1")
    assert any("(conv-mnist5k: 16, mlp-mnist5k-2d: 2, cvae-mnist5k: 16, onnx-mnist: 4)" in c.value for c in at.caption)
    # metrics side by side: stored ones from metrics.json, the ONNX pair's scored here
    table = _table(at, "figures from")
    assert list(table["model"]) == picked
    stored = json.loads((checkpoints.PRETRAINED / "conv-mnist5k" / "metrics.json").read_text())
    assert table["ELBO (nats)"][0] == pytest.approx(stored["elbo_nats"])
    assert table["figures from"][3].startswith("scored here: 100 test items")
    assert np.isfinite(table["ELBO (nats)"][3]) and table["code size"].tolist() == [16, 2, 16, 4]
    kl = _charts(at, "cmp_kl")
    assert len(kl) == 4
    np.testing.assert_allclose(_values(kl[0]["data"][0]["y"]), stored["kl_per_dim"], atol=1e-5)  # metrics.json rounds to 5 places
    # scored here for every model on the same items: close to the stored figures of the shipped ones
    at.toggle(key="cmp_score_here").set_value(True).run()
    _clean(at, "scored here")
    table = _table(at, "figures from")
    assert all(s.startswith("scored here: 100 test items, IWAE k=10") for s in table["figures from"])
    assert abs(table["ELBO (nats)"][0] - stored["elbo_nats"]) < 10
    # maps: the first is conv-mnist5k's PCA, the others aligned onto it by Procrustes
    maps = [_map_points(s) for s in _charts(at, "cmp_map")]
    assert len(maps) == 4 and len({len(m) for m in maps}) == 1
    means = load_analysis(checkpoints.PRETRAINED / "conv-mnist5k")["test_means"]
    np.testing.assert_allclose(maps[0], fit_pca(means).coords, rtol=1e-4, atol=1e-4)
    mlp = load_analysis(checkpoints.PRETRAINED / "mlp-mnist5k-2d")["test_means"]
    expected = procrustes_align(fit_pca(means).coords, fit_pca(mlp).coords)
    np.testing.assert_allclose(maps[1], expected.aligned, rtol=1e-4, atol=1e-4)
    for spec, m in zip(_charts(at, "cmp_map")[1:], maps[1:]):
        again = procrustes_align(maps[0], m)  # an aligned map is already in the reference's frame
        assert again.scale == pytest.approx(1.0, abs=1e-3)
        np.testing.assert_allclose(again.rotation, np.eye(2), atol=1e-3)
        shown = float(re.search(r"disparity ([\d.]+)", spec["layout"]["title"]["text"]).group(1))
        assert shown == pytest.approx(again.disparity, abs=1e-3)
    # the loss lab's ranking of each model's reconstruction
    lab = _table(at, "order by MSE")
    assert list(lab["model"]) == picked
    for order, place in zip(lab["order by MSE"], lab["rank by MSE"]):
        assert f"{order.split(' < ').index('reconstruction') + 1} of 4" == place
    _clean(at, "end")
    assert len(threads) > 20 and all(t.startswith("vae-inference") for t in threads), sorted(set(threads))


def test_a_model_with_another_image_shape_is_refused_and_uploads_are_compared(shipped_env):
    at = open_app(None, "compare")
    at.multiselect(key="cmp_models").set_value(["conv-mnist5k", "conv-patches"]).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(errors(at))
    assert "conv-patches takes 3 x 32 x 32" in shown and "conv-mnist5k takes 1 x 28 x 28" in shown, shown
    assert any("Pick at least two models" in i.value for i in at.info)
    at.multiselect(key="cmp_models").set_value(["conv-mnist5k", "conv-patches", "mlp-mnist5k-2d"]).run()
    assert len(errors(at)) == 1 and not at.exception  # the patches model is still left out; the others compare
    at.radio(key="cmp_source").set_value("Upload an image").run()
    at.file_uploader(key="cmp_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    assert not at.exception and len(errors(at)) == 1, errors(at)
    assert any(s.value.startswith("The same image: upload ring.png") for s in at.subheader)
    image_by_caption(at, "reconstruction by conv-mnist5k")
    image_by_caption(at, "reconstruction by mlp-mnist5k-2d")
    assert list(_table(at, "order by MSE")["model"]) == ["conv-mnist5k", "mlp-mnist5k-2d"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_upload_is_named_with_its_problem_as_reconstruct_names_it(shipped_env):
    """Bad files uploaded beside a good one are each named with their problem at once (the same check and
    message as Reconstruct's, ui.shared.widgets.convert_upload), and the good one is compared."""
    from tests.support.bad_files import CASES

    cases = [CASES[k] for k in ("bomb", "empty", "truncated", "huge_under_limit", "one_by_one")]
    at = open_app(None, "compare")
    at.multiselect(key="cmp_models").set_value(["conv-mnist5k", "mlp-mnist5k-2d"]).run()
    at.radio(key="cmp_source").set_value("Upload an image").run()
    files = [("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")]
    files += [(filename, make(), mime) for filename, make, mime, _, _ in cases]
    at.file_uploader(key="cmp_files").set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = errors(at)
    assert len(shown) == len(cases), shown
    for (filename, _, _, _, words), message in zip(cases, shown):
        assert message.startswith(f"{filename}: ") and words.lower() in message.lower(), (filename, message)
    assert any(s.value.startswith("The same image: upload ring.png") for s in at.subheader)
    image_by_caption(at, "reconstruction by conv-mnist5k")


def test_work_over_the_budget_waits_for_its_button_then_shows_progress(shipped_env, threads, monkeypatch):
    """As with an SD-sized decoder (10-20 s a decode here): with the bound at 0 s every section waits, naming its
    estimate; each one's button runs it, reconstructions and prior draws as watched calls."""
    monkeypatch.setattr("ui.pages.compare.heavy.AUTO_RUN_S", -1.0)
    at = open_app(None, "compare")
    picked = ["conv-mnist5k", "mlp-mnist5k-2d"]
    at.multiselect(key="cmp_models").set_value(picked).run()
    _clean(at, "two models, all waiting")
    waiting = [i.value for i in at.info if "so it waits to be asked for" in i.value]
    # the metrics are the checkpoints' stored ones (nothing to score); the loss lab waits for the reconstructions
    assert [w.split(" takes about ")[0] for w in waiting] == [
        "Reconstructing the image with every model", "Decoding 6 prior draws with every model"], waiting
    assert all("one decode:" in w for w in waiting)
    captions = [c for e in at.get("image") for c in e.captions]
    assert not any(c.startswith(("reconstruction by", "conv-mnist5k #")) for c in captions)
    assert not [d for d in at.table if "order by MSE" in d.value.columns]  # no loss lab before the reconstructions
    next(b for b in at.button if b.label.startswith("Reconstruct it (about")).click().run()
    _clean(at, "reconstructed")
    for name in picked:
        image_by_caption(at, f"reconstruction by {name}")
    assert [i.value.split(" takes about ")[0] for i in at.info if "so it waits" in i.value] == [
        "Decoding 6 prior draws with every model", "Ranking each reconstruction in the loss lab"]
    # the metrics scored here wait too, with the command that scores a model once
    at.toggle(key="cmp_score_here").set_value(True).run()
    scoring = next(i.value for i in at.info if i.value.startswith("Scoring 100 test items at k = 10 takes about"))
    assert "vae-evaluate FOLDER --dataset mnist5k" in scoring
    assert not [d for d in at.table if "figures from" in d.value.columns]
    at.toggle(key="cmp_score_here").set_value(False).run()
    next(b for b in at.button if b.label.startswith("Decode them (about")).click().run()
    _clean(at, "drawn")
    for name in picked:
        image_by_caption(at, f"{name} #6")
    next(b for b in at.button if b.label.startswith("Rank them (about")).click().run()
    _clean(at, "ranked")
    assert list(_table(at, "order by MSE")["model"]) == picked


def test_models_trained_elsewhere_are_compared_on_the_sidebars_data_set(compare_env, threads):
    """A model with no data set of its own (the ONNX pair) is compared on the data set the sidebar shows it with,
    not on the first embedded one."""
    at = open_app(compare_env / "onnx-mnist")
    at.selectbox(key="dataset@onnx-mnist").set_value("digits").run()
    switch_page(at, "compare").run()
    at.multiselect(key="cmp_models").set_value([str(compare_env / "onnx-mnist")]).run()
    _clean(at, "one model")
    assert at.selectbox(key="cmp_dataset").value == "digits"
