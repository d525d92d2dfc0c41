"""Tiny foreign models, built once per test session (the ONNX export takes a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.foreign_models import EXAMPLE_ADAPTER, FLUX_LIKE_CONFIG, SD1_CONFIG, make_autoencoder_kl


@pytest.fixture(scope="session")
def kl_folder(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")  # an optional dependency
    return make_autoencoder_kl(tmp_path_factory.mktemp("foreign") / "tiny_kl")


@pytest.fixture(scope="session")
def adapter_file() -> Path:
    return EXAMPLE_ADAPTER




@pytest.fixture(scope="session")
def sd_sized(tmp_path_factory) -> dict[str, Path]:
    """The SD 1.x and FLUX-like configs at full size (83.7M parameters each, random seeded weights), built once:
    save_pretrained folders, the same weights as original-layout single files, and a first_stage_model. full
    checkpoint. Used only by slow tests."""
    pytest.importorskip("diffusers")
    import torch

    from tests.support.foreign_models import make_kl, write_ldm_file

    root = tmp_path_factory.mktemp("sd_sized")
    paths: dict[str, Path] = {}
    sd = make_kl(root / "sd1", seed=0, **SD1_CONFIG)
    paths["sd1"], paths["sd1_file"] = root / "sd1", write_ldm_file(sd, root / "sd1.safetensors")
    paths["sd1_full"] = write_ldm_file(sd, root / "sd1_full.safetensors", prefix="first_stage_model.",
                                       extra={"model.diffusion_model.out.2.bias": torch.zeros(4)})
    del sd
    flux = make_kl(root / "flux", seed=1, **FLUX_LIKE_CONFIG)
    paths["flux"], paths["flux_file"] = root / "flux", write_ldm_file(flux, root / "flux.safetensors")
    return paths
