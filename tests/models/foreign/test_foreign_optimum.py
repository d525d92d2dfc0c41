"""A folder in Optimum's ONNX layout as a model (explorer.models.foreign.optimum_onnx): the shipped conv-mnist5k,
exported by explorer.onnx.export_optimum, loads back through the same door as every foreign model, detected by its
layout, with its latent shape and scaling read from the files' metadata_props; it decodes and encodes as the torch
model does. A folder Optimum itself wrote (no such metadata) takes its scaling from vae_decoder/config.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from safetensors.numpy import load_file

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.models.foreign import ForeignModelError, describe_model_path, detect_format
from explorer.models.foreign.optimum_onnx import OptimumOnnxVAE, load_optimum
from explorer.onnx.export import (OPTIMUM_FILES, ExportFailure, export_optimum, exported_decoder, exported_encoder,
                                  read_metadata)

SHIPPED = Path(__file__).resolve().parents[3] / "pretrained" / "conv-mnist5k"


@pytest.fixture(scope="module")
def shipped():
    return from_pretrained(SHIPPED)


@pytest.fixture(scope="module")
def test_codes() -> torch.Tensor:
    return torch.from_numpy(load_file(str(SHIPPED / "analysis.safetensors"))["test_means"][:64])  # (64, 16)


def test_the_folder_loads_as_a_model_and_decodes_as_torch_does(optimum_folder, shipped, test_codes):
    assert detect_format(optimum_folder) == "optimum"
    assert describe_model_path(optimum_folder)["error"] is None
    model = from_pretrained(optimum_folder)  # the app's and the CLI's door
    assert isinstance(model, OptimumOnnxVAE) and model.latent_shape == (16,) and model.config.input_shape == (1, 28, 28)
    assert model.code_scaling() == (1.0, 0.0) and model.config.scaling_source == "vae_decoder/model.onnx metadata"
    assert model.config.exported_from == weights_digest(SHIPPED)
    with torch.no_grad():
        np.testing.assert_allclose(model.decode_code(test_codes).numpy(), shipped.decode_code(test_codes).numpy(),
                                   atol=1e-4)
        x = shipped.decode_code(test_codes[:8])  # (8, 1, 28, 28) in [0, 1]
        got, want = model.encode(x), shipped.encode(x)
    np.testing.assert_allclose(got.mean.numpy(), want.mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(got.logvar.numpy(), want.logvar.numpy(), atol=1e-4)
    native = model.native_onnx("decoder")  # the page gets the decoder as it is (the code is the latent here)
    assert native is not None and native.path == optimum_folder / OPTIMUM_FILES["decoder"]
    assert model.native_onnx("encoder") is None


def test_the_page_gets_its_own_decoder_and_no_traced_encoder(optimum_folder, tmp_path):
    """The page's decoder is the folder's own graph, wrapped; its encoder (mean and log-variance in one output) has no
    page form, and a torch export of a forward that runs onnxruntime would trace the probe's outputs as constants:
    the second probe refuses it, and the page then encodes on the server."""
    model = from_pretrained(optimum_folder)
    decoder = exported_decoder(model, "e" * 64, tmp_path)
    assert not isinstance(decoder, ExportFailure) and decoder.info.exporter == "wrapped"
    encoder = exported_encoder(model, "e" * 64, tmp_path, exporters=("torchscript",))
    assert isinstance(encoder, ExportFailure) and "differs from torch" in encoder.message


def _strip_metadata(path: Path) -> None:
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))


def _set_scaling(path: Path, scaling: float, shift: float) -> None:
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, "scaling_factor": repr(scaling), "shift_factor": repr(shift)})
    onnx.save(proto, str(path))


def test_the_scaling_comes_from_the_metadata_or_optimums_config(optimum_folder, shipped, test_codes, tmp_path):
    """code = (latent - shift) * scaling: a code c of the loaded model decodes as the latent c / scaling + shift."""
    scaled = shutil.copytree(optimum_folder, tmp_path / "scaled")
    _set_scaling(scaled / OPTIMUM_FILES["decoder"], 0.5, 0.25)
    model = load_optimum(scaled)
    assert model.code_scaling() == (0.5, 0.25) and model.native_onnx("decoder") is None  # the page needs the scaling
    with torch.no_grad():
        np.testing.assert_allclose(model.decode_code(test_codes[:8]).numpy(),
                                   shipped.decode_code(test_codes[:8] / 0.5 + 0.25).numpy(), atol=1e-4)
    # as Optimum writes it: no explorer metadata, diffusers' config.json beside the decoder
    plain = shutil.copytree(optimum_folder, tmp_path / "plain")
    for part in OPTIMUM_FILES.values():
        _strip_metadata(plain / part)
    with pytest.raises(ForeignModelError, match="no scaling_factor in its metadata_props and there is no "
                                                ".*config.json"):
        load_optimum(plain)
    (plain / "vae_decoder" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL",
                                                                   "scaling_factor": 2.0}))
    model = from_pretrained(plain)
    assert model.code_scaling() == (2.0, 0.0) and model.config.scaling_source == "vae_decoder/config.json"
    assert model.latent_shape == (16,) and model.config.input_shape == (1, 28, 28)  # from the graphs
    with torch.no_grad():
        np.testing.assert_allclose(model.decode_code(test_codes[:8]).numpy(),
                                   shipped.decode_code(test_codes[:8] / 2.0).numpy(), atol=1e-4)


def test_a_folder_with_one_part_is_refused_naming_the_other(optimum_folder, tmp_path):
    half = tmp_path / "half"
    (half / "vae_decoder").mkdir(parents=True)
    shutil.copy(optimum_folder / OPTIMUM_FILES["decoder"], half / OPTIMUM_FILES["decoder"])
    with pytest.raises(ForeignModelError, match="vae_decoder/model.onnx but not vae_encoder/model.onnx"):
        detect_format(half)
    assert "vae_encoder/model.onnx" in describe_model_path(half)["error"]


def _set_props(path: Path, **props: str) -> None:
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props}, **props})
    onnx.save(proto, str(path))


def test_per_channel_statistics_travel_in_the_metadata(kl_folder, tmp_path):
    """An SDXL-style model (config latents_mean / latents_std) exported in Optimum's layout records its per-channel
    statistics in metadata_props, and the folder loads back with the same code <-> latent map."""
    folder = shutil.copytree(kl_folder, tmp_path / "stats")
    raw = json.loads((folder / "config.json").read_text())  # 3 latent channels
    mean, std = [0.1, -0.2, 0.3], [2.0, 1.0, 0.5]
    (folder / "config.json").write_text(json.dumps({**raw, "latents_mean": mean, "latents_std": std}))
    original = from_pretrained(folder)
    export = export_optimum(original, tmp_path / "optimum", "d" * 64, exporters=("torchscript",), fp16=False)
    assert json.loads(export.metadata["latents_mean"]) == mean and "per channel" in export.metadata["scaling"]
    assert json.loads(read_metadata(export.folder / OPTIMUM_FILES["decoder"])["latents_std"]) == std
    model = load_optimum(export.folder)
    assert model.latent_scaling() == original.latent_scaling() and model.latent_scaling().per_channel
    assert model.native_onnx("decoder") is None  # the page needs the scaling applied
    code = torch.randn(2, *original.latent_shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        np.testing.assert_allclose(model.decode_code(code).numpy(), original.decode_code(code).numpy(), atol=1e-4)
    # statistics that do not fit the latent's channels are refused, naming the file
    _set_props(export.folder / OPTIMUM_FILES["decoder"], latents_mean="[0.0, 1.0]", latents_std="[1.0, 1.0]")
    with pytest.raises(ForeignModelError, match="metadata_props: 'latents_mean' must be null or a list of 3"):
        load_optimum(export.folder)


def test_per_channel_statistics_from_optimums_config(optimum_folder, shipped, test_codes, tmp_path):
    """A folder Optimum wrote: the per-channel statistics come from vae_decoder/config.json, as SDXL's pipeline reads
    them (here over the 16 code elements of the vector model)."""
    plain = shutil.copytree(optimum_folder, tmp_path / "plain")
    for part in OPTIMUM_FILES.values():
        _strip_metadata(plain / part)
    mean, std = np.linspace(-1, 1, 16), np.linspace(0.5, 2, 16)
    (plain / "vae_decoder" / "config.json").write_text(json.dumps({
        "_class_name": "AutoencoderKL", "scaling_factor": 0.5, "latents_mean": mean.tolist(),
        "latents_std": std.tolist()}))
    model = load_optimum(plain)
    assert model.latent_scaling().per_channel and model.config.scaling_source == "vae_decoder/config.json"
    with torch.no_grad():
        latents = test_codes[:8] * torch.from_numpy(std).float() / 0.5 + torch.from_numpy(mean).float()
        np.testing.assert_allclose(model.decode_code(test_codes[:8]).numpy(), shipped.decode_code(latents).numpy(),
                                   atol=1e-4)
