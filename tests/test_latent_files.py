"""Latent files: save -> load round trips for vector and spatial codes, another model's file refused with both
digests (and forced), scalings refused or converted, arrays made elsewhere imported, and each bad file named."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save as save_bare

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.latent import dimension_axes
from explorer.latent_files import (LatentFileError, LatentSpace, ModelMismatchError, ScalingMismatchError, latent_space,
                                   latents_bytes, load_latents, save_latents)

VECTOR = LatentSpace("a" * 64, (16,), family="conv")
OTHER = LatentSpace("b" * 64, (16,), family="conv")
SPATIAL = LatentSpace("c" * 64, (4, 8, 8), scaling_factor=0.4, family="autoencoder_kl")


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def test_vector_code_codes_and_path_round_trip_with_axes_and_walk(tmp_path):
    rng = np.random.default_rng(0)
    axes = dimension_axes(rng.random(16), (16,), max_axes=3)
    code = rng.standard_normal(16).astype(np.float32)
    path = save_latents(tmp_path / "one.safetensors", code, VECTOR, "code", axes=axes, walk={"start": "item:3", "v": "1,2"})
    got = load_latents(path, VECTOR)
    assert got.kind == "code" and got.codes.shape == (1, 16) and np.array_equal(got.code, code)
    assert got.walk == {"start": "item:3", "v": "1,2"} and got.digest == VECTOR.digest and not got.notes
    assert np.allclose(got.axes.vectors, axes.vectors) and got.axes.labels == axes.labels and got.axes.kind == axes.kind
    frames = torch.from_numpy(rng.standard_normal((5, 16)).astype(np.float32))  # torch in, numpy out
    got = load_latents(latents_bytes(frames, VECTOR, "path"), VECTOR, name="walk.safetensors")
    assert got.kind == "path" and np.array_equal(got.codes, frames.numpy()) and got.axes is None


def test_spatial_codes_round_trip_and_flat_imports_are_reshaped(tmp_path):
    codes = np.random.default_rng(1).standard_normal((3, 4, 8, 8)).astype(np.float32)
    got = load_latents(save_latents(tmp_path / "s.safetensors", codes, SPATIAL, "codes"), SPATIAL)
    assert got.codes.shape == (3, 4, 8, 8) and np.array_equal(got.codes, codes)
    flat = load_latents(_npy(codes.reshape(3, -1)), SPATIAL, scaling="model", name="flat.npy")
    assert np.array_equal(flat.codes, codes) and flat.source == "npy" and flat.kind == "codes"


def test_a_file_for_another_model_is_refused_naming_both_digests_and_forced_where_shapes_agree(tmp_path):
    path = save_latents(tmp_path / "x.safetensors", np.zeros(16), OTHER)
    with pytest.raises(ModelMismatchError) as err:
        load_latents(path, VECTOR)
    assert "b" * 16 in str(err.value) and "a" * 16 in str(err.value) and "force=True" in str(err.value)
    forced = load_latents(path, VECTOR, force=True)
    assert forced.notes and "forced" in forced.notes[0]
    with pytest.raises(LatentFileError, match=r"shape \(16,\) does not fit"):
        load_latents(path, SPATIAL, force=True)  # forced, but the shapes disagree


def test_another_scaling_is_refused_or_converted(tmp_path):
    saved_under = LatentSpace(SPATIAL.digest, SPATIAL.latent_shape, scaling_factor=0.2, shift_factor=0.5)
    codes = np.random.default_rng(2).standard_normal((4, 8, 8)).astype(np.float32)
    path = save_latents(tmp_path / "c.safetensors", codes, saved_under)
    with pytest.raises(ScalingMismatchError, match=r"scaling_factor 0.2 .*this model's is scaling_factor 0.4"):
        load_latents(path, SPATIAL)
    got = load_latents(path, SPATIAL, scaling_policy="convert")
    latent = codes / 0.2 + 0.5  # the same latent, expressed in the model's scaling
    assert np.allclose(got.code, latent * 0.4, atol=1e-5) and "converted" in got.notes[0]


def test_imported_arrays_need_their_scaling_stated_for_a_scaled_model():
    code = np.ones((4, 8, 8), np.float32)
    with pytest.raises(LatentFileError, match="state what the array holds"):
        load_latents(_npy(code), SPATIAL, name="z.npy")
    raw = load_latents(save_bare({"z": code}), SPATIAL, scaling=1.0, name="z.safetensors")  # raw latents
    assert raw.source == "safetensors" and np.allclose(raw.code, 0.4)
    same = load_latents(_npy(code.astype(np.float64)), SPATIAL, scaling="model", name="z.npy")
    assert same.codes.dtype == np.float32 and np.array_equal(same.code, code)


@pytest.mark.parametrize("make, message", [
    (lambda good: good[: len(good) - 7], "not a complete safetensors file"),
    (lambda good: _npy(np.array([{"a": 1}], dtype=object)), "object array"),
    (lambda good: pickle.dumps(np.zeros(16)), "pickle"),
    (lambda good: _npy(np.zeros((3, 7), np.float32)), r"shape \(3, 7\) does not fit"),
    (lambda good: _npy(np.array(["a"] * 16)), "latent codes are real numbers"),
    (lambda good: _npy(np.full(16, np.nan, np.float32)), "NaN"),
    (lambda good: _npy(np.zeros(16, np.float32))[:-9], "not a complete .npy"),
    (lambda good: save_bare({"p": np.zeros(16, np.float32), "q": np.zeros(16, np.float32)}), "several tensors"),
    (lambda good: b"", "0 bytes"),
    (lambda good: b"hello world, not a tensor", "is not a latent file"),
])
def test_bad_files_get_a_message(make, message):
    good = latents_bytes(np.zeros(16), VECTOR)
    with pytest.raises(LatentFileError, match=message):
        load_latents(make(good), VECTOR, name="bad")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(LatentFileError, match="kind 'walk' is not one of code, codes, path"):
        save_latents(tmp_path / "k.safetensors", np.zeros(16), VECTOR, "walk")
    with pytest.raises(LatentFileError, match="kind 'code' is one code, got 2"):
        save_latents(tmp_path / "k.safetensors", np.zeros((2, 16)), VECTOR, "code")
    with pytest.raises(LatentFileError, match="scaling_policy 'guess'"):
        load_latents(b"", VECTOR, scaling_policy="guess")


def test_a_real_model_records_its_digest_and_scaling(tmp_path):
    folder = Path(__file__).resolve().parents[1] / "pretrained" / "conv-mnist5k"
    model, digest = from_pretrained(folder), weights_digest(folder)
    space = latent_space(model, digest)
    assert space.latent_shape == (16,) and (space.scaling_factor, space.shift_factor) == (1.0, 0.0)
    code = model.encode_code(torch.rand(1, *model.config.input_shape))[0].detach().numpy()
    path = save_latents(tmp_path / "m.safetensors", code, model, digest=digest)
    got = load_latents(path, model, digest=digest[:16])  # the app's 16-character digest matches the full one
    assert np.array_equal(got.code, code)
    with pytest.raises(LatentFileError, match="pass digest="):
        save_latents(tmp_path / "no.safetensors", code, model)


def test_per_channel_statistics_are_recorded_and_converted(tmp_path):
    """An SDXL-style space (per-channel latents_mean / latents_std): the file records the statistics, and codes saved
    under the scalar form convert channel by channel."""
    mean, std = (0.1, -0.2, 0.3, 0.0), (2.0, 1.0, 0.5, 1.5)
    sdxl = LatentSpace(SPATIAL.digest, SPATIAL.latent_shape, 0.13025, 0.0, latents_mean=mean, latents_std=std)
    codes = np.random.default_rng(4).standard_normal((2, 4, 8, 8)).astype(np.float32)
    path = save_latents(tmp_path / "sdxl.safetensors", codes, sdxl, "codes")
    meta = safe_open(str(path), "np").metadata()
    assert json.loads(meta["latents_mean"]) == list(mean) and "per channel" in meta["scaling"]
    same = load_latents(path, sdxl)
    assert np.array_equal(same.codes, codes) and not same.notes
    scalar = LatentSpace(SPATIAL.digest, SPATIAL.latent_shape, 0.13025, 0.0)
    with pytest.raises(ScalingMismatchError, match="with per-channel latents_mean / latents_std; this model's is "
                                                   "scaling_factor 0.13"):
        load_latents(path, scalar)
    got = load_latents(path, scalar, scaling_policy="convert")
    latent = codes * np.array(std).reshape(1, 4, 1, 1) / 0.13025 + np.array(mean).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(got.codes, latent * 0.13025, atol=1e-5)
