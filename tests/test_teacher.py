"""The shipped teacher, pretrained/kl-f4-photos: it loads as a diffusers folder, and its card's PSNR holds."""

import json
from pathlib import Path

import pytest

from explorer.checkpoint import from_pretrained
from explorer.data.photos import HELD_OUT, TRAIN_PHOTOS, load_photo
from explorer.analysis.teacher import whole_photo_psnr
from explorer.models.foreign.detect import describe_model_path

TEACHER = Path(__file__).resolve().parents[1] / "pretrained" / "kl-f4-photos"


def test_the_shipped_folder_is_a_small_diffusers_f4_vae():
    described = describe_model_path(TEACHER)
    assert described["kind"] == "diffusers" and described["error"] is None
    config = json.loads((TEACHER / "config.json").read_text())
    assert config["_class_name"] == "AutoencoderKL" and config["latent_channels"] == 4
    assert len(config["block_out_channels"]) == 3  # f4: two downsamplings
    assert (TEACHER / "diffusion_pytorch_model.safetensors").stat().st_size < 8 << 20
    scores = json.loads((TEACHER / "teacher.json").read_text())
    assert scores["held_out"] == list(HELD_OUT) and scores["train_photos"] == list(TRAIN_PHOTOS)
    card = (TEACHER / "README.md").read_text()
    assert f"{scores['mean_psnr_whole_db']:.2f}" in card and ", ".join(HELD_OUT) in card


@pytest.mark.slow
def test_the_card_psnr_is_what_the_shipped_weights_give():
    model = from_pretrained(TEACHER, "cpu")
    assert model.family == "diffusers_kl" and model.latent_shape == (4, 16, 16)
    scores = json.loads((TEACHER / "teacher.json").read_text())
    for name in ("chelsea", "coffee"):  # two of the three held-out photographs keep the test short
        assert whole_photo_psnr(model, load_photo(name)) == pytest.approx(scores["psnr_whole_db"][name], abs=0.01)
