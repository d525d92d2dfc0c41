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
    assert f"{scores['mean_psnr_loaded_db']:.2f}" in card and scores["tile"] == 64
    assert described["summary"].endswith("in 64 px tiles (its training crops)")


@pytest.mark.slow
def test_the_card_psnr_is_what_the_shipped_weights_give():
    model = from_pretrained(TEACHER, "cpu")
    assert model.family == "diffusers_kl" and model.latent_shape == (4, 16, 16)
    scores = json.loads((TEACHER / "teacher.json").read_text())
    for name in ("chelsea", "coffee"):  # two of the three held-out photographs keep the test short
        assert whole_photo_psnr(model, load_photo(name)) == pytest.approx(scores["psnr_whole_db"][name], abs=0.01)
        loaded = whole_photo_psnr(model, load_photo(name), as_loaded=True)
        assert loaded == pytest.approx(scores["psnr_loaded_db"][name], abs=0.01)
        assert loaded > scores["psnr_whole_db"][name] + 3  # in its training crops' tiles: 4 to 6 dB better


def test_the_teacher_runs_large_images_in_the_tiles_it_was_trained_on_and_other_folders_whole(tmp_path):
    """teacher.json's tile (its training crops) turns diffusers' tiling on at that size; a folder trained elsewhere
    runs whole, as diffusers does; whole_frames() turns the tiles off for as long as it lasts; a bad tile is named."""
    import shutil

    from explorer.checkpoint import CheckpointError

    model = from_pretrained(TEACHER, "cpu")
    assert model.config.tile_px == 64 and model.vae.use_tiling
    assert (model.vae.tile_sample_min_size, model.vae.tile_latent_min_size) == (64, 16)
    with model.whole_frames():
        assert not model.vae.use_tiling
    assert model.vae.use_tiling
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("config.json", "diffusion_pytorch_model.safetensors"):
        shutil.copy(TEACHER / name, elsewhere / name)
    plain = from_pretrained(elsewhere, "cpu")
    assert plain.config.tile_px == 0 and not plain.vae.use_tiling
    assert describe_model_path(elsewhere)["summary"].endswith(f"scaling {plain.config.scaling_factor:g}")
    (elsewhere / "teacher.json").write_text(json.dumps({"tile": "64"}))
    with pytest.raises(CheckpointError, match="tile must be a whole number of pixels"):
        from_pretrained(elsewhere, "cpu")
    (elsewhere / "teacher.json").write_text(json.dumps({"tile": 30}))
    with pytest.raises(CheckpointError, match="multiple of the downsampling factor 4"):
        from_pretrained(elsewhere, "cpu")
