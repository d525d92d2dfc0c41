"""explorer.cache: one cache folder per model, named by the digest of its weights."""

import hashlib

import numpy as np
import pytest

from explorer import cache


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VAE_EXPLORER_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path / ".cache" / "vae-explorer"


def test_native_folder_digest_is_the_sha256_of_its_weights_and_follows_them(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights v1")
    d1 = cache.weights_digest(folder)
    assert d1 == hashlib.sha256(b"weights v1").hexdigest()
    (folder / "config.json").write_text('{"other": 1}')  # only the weights count
    assert cache.weights_digest(folder) == d1
    (folder / "model.safetensors").write_bytes(b"weights v2")
    assert cache.weights_digest(folder) != d1
    assert cache.weights_digest(folder / "model.safetensors") == cache.weights_digest(folder)


def test_several_files_onnx_pair_and_lists(tmp_path):
    (tmp_path / "encoder.onnx").write_bytes(b"enc")
    (tmp_path / "decoder.onnx").write_bytes(b"dec")
    (tmp_path / "onnx_vae.json").write_text("{}")
    pair = cache.weights_digest(tmp_path)
    assert [p.name for p in cache.weight_files(tmp_path)] == ["encoder.onnx", "decoder.onnx"]
    assert pair == cache.weights_digest([tmp_path / "decoder.onnx", tmp_path / "encoder.onnx"])  # order-free
    (tmp_path / "decoder.onnx").write_bytes(b"dec2")
    assert cache.weights_digest(tmp_path) != pair
    adapter = tmp_path / "adapter.py"
    adapter.write_text("# code")
    assert cache.weights_digest([adapter, tmp_path / "encoder.onnx"]) != cache.weights_digest([tmp_path / "encoder.onnx"])
    with pytest.raises(FileNotFoundError):
        cache.weights_digest(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError):
        cache.weights_digest(empty)


def test_layout_and_names(tmp_path):
    digest = "ab" * 32
    assert cache.model_cache_dir(digest, tmp_path) == tmp_path / "models" / digest[:16]
    assert cache.model_cache_dir(digest[:16], tmp_path) == cache.model_cache_dir(digest, tmp_path)
    assert cache.entry_path(digest, "maps", "tsne-x.safetensors", tmp_path) == tmp_path / "models" / digest[:16] / "maps" / "tsne-x.safetensors"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            cache.entry_path(digest, "maps", bad, tmp_path)
    with pytest.raises(ValueError):
        cache.model_cache_dir("not-a-digest", tmp_path)


def test_entries_round_trip_and_torn_files_read_as_missing(tmp_path):
    path = cache.entry_path("cd" * 32, "maps", "m.safetensors", tmp_path)
    assert cache.read_entry(path) is None
    cache.write_entry(path, {"coords": np.zeros((3, 2), np.float32)}, {"method": "tsne", "params": {"p": 30}})
    arrays, meta = cache.read_entry(path)
    assert arrays["coords"].shape == (3, 2) and meta == {"method": "tsne", "params": '{"p": 30}'}
    path.write_bytes(b"torn")
    assert cache.read_entry(path) is None


def test_map_jobs_file_their_maps_under_the_model_digest(tmp_path):
    from explorer.analysis import map_jobs as mapjobs

    digest = "ef" * 8  # the app's 16-character digest of model.safetensors
    key = mapjobs.map_key(digest, "mnist 5k", "tsne", {"perplexity": 30.0}, 0, np.zeros((5, 3)))
    path = mapjobs.cache_path(tmp_path, key)
    assert path.parent == tmp_path / "models" / digest / "maps" and path.name.startswith("tsne-mnist_5k-")
    assert mapjobs.load_cached(tmp_path, key) is None
    cache.write_entry(path, {"coords": np.ones((5, 2), np.float32)})
    assert mapjobs.load_cached(tmp_path, key).shape == (5, 2)
    other = mapjobs.map_key("some/checkpoint/path", "digits", "umap", {}, 0, np.zeros((5, 3)))  # not a digest
    assert mapjobs.cache_path(tmp_path, other).parent.parent.parent == tmp_path / "models"


def test_array_digest_reads_float32_bytes_so_stored_keys_keep_their_names():
    """Stored maps are named by array_digest of the encoded means: it must stay the sha256 of their float32 bytes
    (the shipped models' precomputed maps were named that way), whatever dtype the means come in."""
    means = np.random.default_rng(0).normal(size=(50, 16))  # float64
    expected = hashlib.sha256(means.astype(np.float32).tobytes()).hexdigest()[:16]
    assert cache.array_digest(means) == cache.array_digest(means.astype(np.float32)) == expected
    assert cache.array_digest(means.T) != expected  # C order of the array as given
    assert cache.array_digest(means, prefix=b"x") != expected
    labels = np.arange(5)
    assert cache.array_digest(labels, dtype=None) == hashlib.sha256(labels.tobytes()).hexdigest()[:16]
    assert cache.array_digest(means[:20], means[20:]) == expected  # the arrays' bytes one after another
