"""python -m explorer.cli.evaluate: any loadable model on any data set of its input shape, written beside the model
(MODEL/eval/<dataset>/) or, for a read-only model, into the weights-digest cache; bad input exits 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from explorer.analysis.store import find_evaluations, load_evaluation
from explorer.cache import model_cache_dir, weights_digest
from explorer.checkpoint import save_pretrained
from explorer.cli.evaluate import main
from explorer.models.registry import build_model
from tests.support.minimal_family import MinimalConfig, MinimalVAE  # defines only encode and decode

FAST = ["--iwae-k", "4", "--maps", "pca", "--limit", "40", "--device", "cpu", "--no-progress"]


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


@pytest.fixture()
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 28, 28), latent_dim=4, hidden_sizes=(32,))
    return save_pretrained(model, tmp_path / "tiny-mlp", {"dataset": {"name": "mnist5k"}})


def _check_folder(folder, n_items, latent_dim):
    metrics, arrays = load_evaluation(folder)
    assert (folder / "README.md").is_file()
    assert metrics["test_items"] == n_items and metrics["code_name"] == "posterior mean"
    assert "Bernoulli" in metrics["likelihood_description"] and len(metrics["kl_per_dim"]) == latent_dim
    for key in ("score_elbo", "score_iwae", "score_nll", "score_kl"):
        assert arrays[key].shape == (n_items,) and np.isfinite(arrays[key]).all(), key
    assert arrays["score_elbo"].mean() <= arrays["score_iwae"].mean()
    assert arrays["test_means"].shape == (n_items, latent_dim)
    assert arrays["pca_coords"].shape == (n_items, 2)
    return metrics, arrays


def test_own_and_another_data_set_go_under_eval_and_leave_the_model_alone(model_dir, capsys):
    before = _snapshot(model_dir)
    assert main([str(model_dir), "--dataset", "mnist5k", *FAST]) == 0
    assert main([str(model_dir), "--dataset", "digits", "--image-size", "28", *FAST[:-1]]) == 0  # with bars
    assert _snapshot(model_dir) == before
    assert sorted(p.name for p in (model_dir / "eval").iterdir()) == ["digits", "mnist5k"]  # no temporary left
    found = find_evaluations(model_dir)
    assert sorted(found) == ["digits", "mnist5k"]
    metrics, _ = _check_folder(found["digits"], 40, 4)
    assert metrics["dataset"]["name"] == "digits" and metrics["weights_digest"] == weights_digest(model_dir)
    assert "digits" in (found["digits"] / "README.md").read_text()
    err = capsys.readouterr().err
    assert "scoring digits" in err and "PCA map" in err  # tqdm bars


def test_maps_have_one_row_per_item(model_dir):
    assert main([str(model_dir), "--dataset", "mnist5k", "--maps", "pca,tsne", "--iwae-k", "0", "--limit", "30",
                 "--device", "cpu", "--no-progress"]) == 0
    metrics, arrays = load_evaluation(model_dir / "eval" / "mnist5k")
    assert metrics["maps"] == ["pca", "tsne"] and arrays["tsne_coords"].shape == (30, 2)
    assert np.isnan(arrays["score_iwae"]).all() and metrics["iwae_nll_nats"] is None


def test_a_read_only_model_folder_sends_the_output_to_the_cache(model_dir, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    before = _snapshot(model_dir)
    if os.geteuid() == 0:  # root writes through chmod: make the folder look read-only instead
        import explorer.files

        real = explorer.files.os.access
        monkeypatch.setattr(explorer.files.os, "access",
                            lambda p, mode: False if str(p).startswith(str(model_dir)) else real(p, mode))
    model_dir.chmod(0o555)
    try:
        assert main([str(model_dir), "--dataset", "mnist5k", "--cache-dir", str(cache_dir), *FAST]) == 0
    finally:
        model_dir.chmod(0o755)
    assert not (model_dir / "eval").exists() and _snapshot(model_dir) == before
    target = model_cache_dir(weights_digest(model_dir), cache_dir) / "eval" / "mnist5k"
    _check_folder(target, 40, 4)
    assert find_evaluations(model_dir, cache_dir) == {"mnist5k": target}


def test_a_model_file_goes_to_the_cache(model_dir, tmp_path, monkeypatch):
    calls = []
    import explorer.checkpoint
    import explorer.cli.evaluate

    real = explorer.checkpoint.from_pretrained

    def from_file(path, device="cpu", **kw):  # as foreign loaders take a file (an adapter .py)
        calls.append((path, kw))
        return real(model_dir, device)

    monkeypatch.setattr(explorer.checkpoint, "from_pretrained", from_file)
    weights = model_dir / "model.safetensors"
    assert main([str(weights), "--dataset", "mnist5k", "--cache-dir", str(tmp_path / "c"), *FAST]) == 0
    assert calls and calls[0][1] == {}  # no keyword the user did not give
    assert (model_cache_dir(weights_digest(weights), tmp_path / "c") / "eval" / "mnist5k" / "metrics.json").is_file()


def test_a_family_with_only_encode_and_decode(tmp_path):
    torch.manual_seed(0)
    model = MinimalVAE(MinimalConfig(input_shape=(1, 28, 28), latent_dim=3))
    folder = save_pretrained(model, tmp_path / "encdec")
    assert main([str(folder), "--dataset", "mnist5k", *FAST]) == 0
    _check_folder(folder / "eval" / "mnist5k", 40, 3)


def test_digest_follows_the_weights(model_dir):
    first = weights_digest(model_dir)
    torch.manual_seed(1)
    save_pretrained(build_model("mlp", input_shape=(1, 28, 28), latent_dim=4, hidden_sizes=(32,)), model_dir)
    assert weights_digest(model_dir) != first


@pytest.mark.parametrize("args, message", [
    (["--dataset", "no-such-set"], "unknown data set"),
    (["--dataset", "mnist", "--data-root", "/no/such/folder"], "--data-root"),
    (["--dataset", "mnist"], "data folder"),
    (["--dataset", "digits"], "1x8x8"),  # 8x8 digits for a 28x28 model: both shapes named
    (["--dataset", "mnist5k", "--maps", "pca,bogus"], "unknown map method"),
    (["--dataset", "mnist5k", "--limit", "0"], "--limit"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(model_dir, args, message, capsys):
    assert main([str(model_dir), *args, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not (model_dir / "eval").exists()


def test_models_that_do_not_load_exit_2(tmp_path, model_dir, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps(json.loads((model_dir / "config.json").read_text())))
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    for path in (tmp_path / "missing", tmp_path, broken):
        assert main([str(path), "--dataset", "mnist5k", *FAST]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    assert not (broken / "eval").exists()


def test_a_failure_midway_leaves_the_previous_evaluation(model_dir, monkeypatch):
    assert main([str(model_dir), "--dataset", "mnist5k", *FAST]) == 0
    before = _snapshot(model_dir / "eval" / "mnist5k")
    import explorer.cli.evaluate
    import explorer.run_folder

    def fail_after_the_arrays(folder, metrics, arrays, card=None):
        explorer.run_folder.save_analysis(folder, arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(explorer.run_folder, "write_evaluation", fail_after_the_arrays)
    assert main([str(model_dir), "--dataset", "mnist5k", *FAST]) == 130
    assert _snapshot(model_dir / "eval" / "mnist5k") == before
    assert sorted(p.name for p in (model_dir / "eval").iterdir()) == ["mnist5k"]


def test_foreign_options_reach_from_pretrained_and_an_untrusted_adapter_is_refused(model_dir, tmp_path, monkeypatch, capsys):
    import explorer.checkpoint

    real = explorer.checkpoint.from_pretrained
    adapter = tmp_path / "adapter.py"
    adapter.write_text("raise SystemExit('this code must never run')\n")
    assert main([str(adapter), "--dataset", "mnist5k", *FAST]) == 2
    assert "--trust-code" in capsys.readouterr().err
    seen = {}

    def foreign_aware(path, device="cpu", *, trusted_code=(), image_size=None):
        seen.update(trusted_code=trusted_code, image_size=image_size)
        return real(model_dir, device)

    monkeypatch.setattr(explorer.checkpoint, "from_pretrained", foreign_aware)
    assert main([str(adapter), "--trust-code", str(adapter), "--image-size", "28", "--dataset", "mnist5k",
                 "--cache-dir", str(tmp_path / "c"), *FAST]) == 0
    assert seen == {"trusted_code": (str(adapter),), "image_size": 28}
