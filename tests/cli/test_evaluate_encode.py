"""`python -m explorer.cli.evaluate --encode-only`: stream a split (or both) into the cache's resumable shards."""

from __future__ import annotations

import torch

from explorer.analysis.encode_dataset import load_encoded
from explorer.cache import model_cache_dir, weights_digest
from explorer.checkpoint import save_pretrained
from explorer.data import load_dataset
from explorer.cli.evaluate import main
from explorer.models.registry import build_model


def test_encode_only_both_splits_go_to_the_cache(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    shape = load_dataset("digits").image_shape
    model_dir = save_pretrained(build_model("mlp", input_shape=shape, latent_dim=3, hidden_sizes=(16,)),
                                tmp_path / "m", {"dataset": {"name": "digits"}})
    cache = tmp_path / "cache"
    argv = [str(model_dir), "--dataset", "digits", "--encode-only", "--split", "both", "--limit", "30",
            "--cache-dir", str(cache), "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    encoded = model_cache_dir(weights_digest(model_dir), cache) / "encoded"
    folders = sorted(p.name for p in encoded.iterdir())
    assert len(folders) == 2 and folders[0].startswith("digits-test-") and folders[1].startswith("digits-train-")
    for name in folders:
        out = load_encoded(encoded / name)
        assert out.means.shape == (30, 3) and (out.labels >= 0).all()
    assert not (model_dir / "eval").exists()
    assert main([*argv[:3], "--split", "both", "--cache-dir", str(cache), "--no-progress"]) == 2
    assert "--encode-only" in capsys.readouterr().err
