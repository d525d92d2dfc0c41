"""`vae-evaluate MODEL --dataset D --metrics disentanglement`: the metrics of a model on a data set with known factors,
each with its spread over sampling seeds and a one-line description, merged into the model's metrics.json and
rendered in its card; the model's own loader options are used (here: single-object shapes); bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from explorer.checkpoint import save_pretrained
from explorer.cli.evaluate import main
from explorer.models import build_model

SHAPES = {"name": "shapes", "options": {"single": True, "n_images": 200}}


@pytest.fixture
def model_folder(tmp_path) -> Path:
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(3, 32, 32), latent_dim=3, hidden_sizes=(8,)).eval()
    folder = tmp_path / "tiny-shapes"
    save_pretrained(model, folder, {"dataset": SHAPES})
    (folder / "metrics.json").write_text(json.dumps({"elbo_nats": -1.5}))
    (folder / "README.md").write_text("# tiny-shapes\n\n## Evaluation\n\nkept\n")
    return folder


def test_entries_with_spread_go_into_metrics_json_and_the_card(model_folder, tmp_path, capsys):
    argv = [str(model_folder), "--dataset", "shapes", "--metrics", "disentanglement", "--metric-names", "mig,factor_vae",
            "--metric-seeds", "3", "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    metrics = json.loads((model_folder / "metrics.json").read_text())
    assert metrics["elbo_nats"] == -1.5  # train.py's figures stay
    entries = metrics["disentanglement"]
    assert set(entries) == {"shapes/mig", "shapes/factor_vae"}
    for e in entries.values():
        assert len(e["seed_values"]) == 3 and e["seeds"] == [0, 1, 2] and e["description"]
        assert e["value"] == pytest.approx(sum(e["seed_values"]) / 3)
        assert e["spread"] == pytest.approx(torch.tensor(e["seed_values"]).std().item(), abs=1e-9)
        assert e["settings"]["codes"] == "posterior means"
    info = metrics["disentanglement_info"]["shapes"]
    assert info["factor_names"] == ["colour", "shape", "size", "position"] and info["options"] == SHAPES["options"]
    assert len(info["mutual_information"]) == 3  # latent dims x factors
    card = (model_folder / "README.md").read_text()
    assert "kept" in card and "## Disentanglement" in card
    assert f"| shapes/mig | {entries['shapes/mig']['value']:.4g} ± " in card
    assert "shapes/mig:" in capsys.readouterr().out

    # a second run renews its own rows and section, and keeps the others
    assert main([a if a != "mig,factor_vae" else "mig" for a in argv]) == 0
    again = json.loads((model_folder / "metrics.json").read_text())["disentanglement"]
    assert set(again) == {"shapes/mig", "shapes/factor_vae"}
    assert (model_folder / "README.md").read_text().count("## Disentanglement") == 1


def test_a_data_root_without_the_npz_writes_nothing(model_folder, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = {p.name: p.read_bytes() for p in model_folder.iterdir()}
    status = main([str(model_folder), "--dataset", "dsprites", "--data-root", str(empty), "--metrics",
                   "disentanglement", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert status == 2 and "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in model_folder.iterdir()} == before
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("family,model,beta,says", [
    ("mlp", {}, 1.0, "plain VAE ELBO"), ("mlp", {}, 4.0, "beta-VAE (beta = 4"),
    ("tcvae", {"tc_weight": 6.0, "tc_estimator": "mws"}, 1.0, "(6 - 1) x total correlation, estimated by MWS")])
def test_the_card_states_the_objective(family, model, beta, says):
    from explorer.card import objective_text

    text = objective_text({"family": family, "config": model, "training": {"beta": beta, "epochs": 2, "seed": 0}},
                          {"train_seconds": 3000.0})
    assert says in text and "trained in 50 min (2 epochs, seed 0)" in text
