"""The Factors page: for a model whose data set has known factors, the metric table with its spread, the
mutual-information heat map (latent dims x factors), each dimension's label and a traversal grid per dimension;
models of one recipe are grouped by training seed; "walk along this factor" opens the Latent walk on that dimension;
a model whose data set has no factors gets a message naming those that have them.

The fast test reads a report that `vae-evaluate ... --metrics disentanglement` stored (as the shipped dSprites
models ship theirs); the slow one runs the page's own background job (ui/services/factorjobs.py) to its end.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.analysis.disentanglement.measure import measure
from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.cli.evaluate import write_disentanglement
from explorer.data import load_dataset
from explorer.data.factors import factors_of
from explorer.models import build_model
from ui.pages.factors.view import carrier_of, stored_report
from tests.support import checkpoints
from tests.support.apptest_helpers import errors, open_app, switch_page

SHAPES = {"name": "shapes", "options": {"single": True, "n_images": 200}}


def tiny(folder: Path, dataset: dict, seed: int, shape=(3, 32, 32)) -> Path:
    torch.manual_seed(seed)
    model = build_model("mlp", input_shape=shape, latent_dim=3, hidden_sizes=(8,)).eval()
    save_pretrained(model, folder, {"dataset": dataset, "training": {"epochs": 1, "seed": seed}})
    (folder / "metrics.json").write_text(json.dumps({"kl_per_dim": [1.0, 0.5, 0.2]}))
    return folder


@pytest.fixture(scope="module")
def factor_models(tmp_path_factory) -> Path:
    """Two seeds of one tiny recipe on single-object shapes (with stored metrics) and a tiny mnist5k model."""
    root = tmp_path_factory.mktemp("factor-models")
    data = factors_of(load_dataset("shapes", **SHAPES["options"]))
    for seed in (0, 1):
        folder = tiny(root / f"tiny-shapes-seed{seed}", SHAPES, seed)
        # what `vae-evaluate ... --metrics disentanglement` stores, for two fast metrics (tests/cli covers the rest)
        report = measure(from_pretrained(folder), folder, data, seeds=(0, 1), preset="quick", names=["mig", "sap"])
        info = {"seeds": [0, 1], "preset": "quick", "command": "test", "factor_names": report.factor_names,
                "mutual_information": report.mutual_information.tolist(),
                "factor_entropy": report.factor_entropy.tolist()}
        write_disentanglement(folder, report.entries, "shapes", info, root / "cache")
    tiny(root / "tiny-mnist", {"name": "mnist5k", "options": {}}, 0, (1, 28, 28))
    return root


@pytest.fixture
def env(factor_models, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(factor_models))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_EXPLORER_LIVE", "off")
    return factor_models


def _walk_key(at) -> str:
    return at.session_state["_ctx"].key


def _heat_maps(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "-fac_mi:" in c.proto.id]


def test_page_shows_metrics_heat_map_labels_and_traversals(env):
    at = open_app(env / "tiny-shapes-seed0", "factors")
    assert not errors(at), errors(at)
    table = next(d.value for d in at.dataframe if "what it measures" in d.value.columns)
    assert "MIG" in set(table["metric"]) and all("±" in v for v in table["tiny-shapes-seed0"])
    (spec,) = _heat_maps(at)
    assert spec["data"][0]["type"] == "heatmap"
    assert list(spec["data"][0]["x"]) == ["colour", "shape", "size", "position"]
    assert len(spec["data"][0]["y"]) == 3  # one row per latent dimension
    labels = next(d.value for d in at.dataframe if "carries most" in d.value.columns)
    assert list(labels["dimension"]) == ["z0", "z1", "z2"]
    assert set(labels["carries most"]) <= {"colour", "shape", "size", "position"}
    captions = [c for im in at.get("image") for c in im.captions]
    assert sum(c.startswith(("z0:", "z1:", "z2:")) for c in captions) == 3  # a traversal row per dimension

    at.multiselect(key="fac_more").set_value([str(env / "tiny-shapes-seed1")])
    at.run()
    assert not errors(at) and not at.exception
    seeds = next(d.value for d in at.dataframe if "mean ± std over training seeds" in d.value.columns)
    assert {"seed 0", "seed 1"} <= set(seeds.columns)
    assert len(_heat_maps(at)) == 2

    factor = at.selectbox(key=f"fac_walk_factor:{env / 'tiny-shapes-seed0'}")
    factor.set_value("shape")
    at.run()
    next(b for b in at.button if b.key == f"fac_walk:{env / 'tiny-shapes-seed0'}").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # the walk opened on the dimension that carries "shape", at +2, in the walk's own slider order (by KL)
    assert at.query_params["axes"] == "dims" and at.query_params["model"] == "tiny-shapes-seed0"
    dim = carrier_of(stored_report(json.loads((env / "tiny-shapes-seed0" / "metrics.json").read_text()), "shapes"),
                     "shape")
    values = [float(v) for v in at.query_params["v"].split(",")]
    assert values[[0, 1, 2].index(dim)] == 2.0 and sum(values) == 2.0  # KL 1.0, 0.5, 0.2: slot order = dims
    assert at.slider(key=f"walk:{_walk_key(at)}:dims:d{dim}").value == 2.0


@pytest.mark.slow
def test_the_shipped_shapes_model_shows_its_stored_figures(tmp_path, monkeypatch):
    shipped = checkpoints.shipped()
    assert "conv-shapes-single" in shipped
    monkeypatch.setenv("VAE_EXPLORER_MODELS", "")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_EXPLORER_LIVE", "off")
    at = open_app(shipped["conv-shapes-single"], "factors")
    assert not errors(at), errors(at)
    (spec,) = _heat_maps(at)
    assert list(spec["data"][0]["x"]) == ["colour", "shape", "size", "position"] and len(spec["data"][0]["y"]) == 10
    captions = [c for im in at.get("image") for c in im.captions]
    assert sum(re.match(r"z\d+:", c) is not None for c in captions) == 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tcvae-dsprites", "vae-dsprites", "betavae-dsprites"])
def test_a_shipped_dsprites_model_shows_its_stored_figures(name, tmp_path, monkeypatch):
    shipped = checkpoints.shipped()
    if name not in shipped:
        pytest.skip(f"pretrained/{name} is not shipped in this checkout yet")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", "")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_EXPLORER_LIVE", "off")
    at = open_app(shipped[name], "factors")
    assert not errors(at), errors(at)
    (spec,) = _heat_maps(at)
    assert list(spec["data"][0]["x"]) == ["shape", "scale", "orientation", "posX", "posY"]
    assert len(spec["data"][0]["y"]) == 10
    captions = [c for im in at.get("image") for c in im.captions]
    assert sum(re.match(r"z\d+:", c) is not None for c in captions) == 10
    assert "stored in its metrics.json, preset quick-dci" in " ".join(c.value for c in at.caption)


def test_a_data_set_without_factors_gets_a_message_naming_those_with_them(env):
    at = open_app(env / "tiny-mnist", "factors")
    warning = " ".join(w.value for w in at.warning)
    assert "mnist5k" in warning and "no known factors" in warning and "dsprites" in warning
    assert not _heat_maps(at)


@pytest.mark.slow
def test_the_background_job_computes_the_page_preset(env, tmp_path):
    """A model with no stored figures: the page starts its job, shows its progress, and reruns into the map."""
    fresh = tiny(env / "tiny-shapes-fresh", SHAPES, 2)
    try:
        at = open_app(fresh, "factors")
        assert any("in the background" in p.proto.text for p in at.get("progress")) or _heat_maps(at)
        deadline = time.monotonic() + 240
        while not _heat_maps(at) and time.monotonic() < deadline:
            time.sleep(2)
            at.run()
        assert _heat_maps(at) and not errors(at), errors(at)
        caption = " ".join(c.value for c in at.caption)
        assert "computed here at the quick preset" in caption
    finally:
        import shutil

        shutil.rmtree(fresh, ignore_errors=True)
