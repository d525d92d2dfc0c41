import json

import pytest
import torch

from explorer.checkpoint import from_pretrained
from explorer.models import build_model
from explorer.models.foreign.detect import describe_model_path, detect_format
from explorer.training import TrainConfig, Trainer
from tests.support.training import fit_until

TINY = {"input_shape": (3, 16, 16), "likelihood": "gaussian", "block_out_channels": (8, 16, 16),
        "norm_num_groups": 4, "layers_per_block": 1, "latent_channels": 4}


def tiny(seed=0, **overrides):
    torch.manual_seed(seed)
    return build_model("autoencoder_kl", **{**TINY, **overrides})


def test_spatial_code_shapes_and_loss_terms():
    model = tiny()
    caps = model.capabilities()
    assert caps.spatial_code and caps.item_keyed_noise and caps.trainable
    assert model.latent_shape == (4, 4, 4)  # f4: two downsamplings of 16 px
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    posterior = model.encode(x)
    assert posterior.mean.shape == (2, 4, 4, 4)
    assert model.decode(posterior.mean).mean.shape == (2, 3, 16, 16)
    terms = model.loss_terms((x,), torch.Generator().manual_seed(2))
    assert terms["nll"].shape == (2,) and terms["kl_dims"].shape == (2, 64)
    assert torch.isfinite(terms["nll"]).all() and (terms["kl_dims"] >= 0).all()
    # fully convolutional: a larger image (multiple of f) encodes to a larger map
    assert model.encode(torch.rand(1, 3, 24, 32)).mean.shape == (1, 4, 6, 8)


@pytest.mark.parametrize("values, message", [
    ({"likelihood": "bernoulli"}, "likelihood must be 'gaussian'"),
    ({"norm_num_groups": 3}, "norm_num_groups 3 must divide"),
    ({"input_shape": (3, 18, 18)}, "multiple of the downsampling factor 4"),
])
def test_bad_configs_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        tiny(**values)


def test_save_diffusers_round_trip(tmp_path):
    from diffusers import AutoencoderKL

    model = tiny()
    with torch.no_grad():  # weights off their initial values, so the check is not of a fresh init
        for p in model.vae.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.01)
    folder = model.save_diffusers(tmp_path / "kl", scaling_factor=0.5)
    assert (folder / "config.json").is_file() and (folder / "diffusion_pytorch_model.safetensors").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["_class_name"] == "AutoencoderKL" and config["scaling_factor"] == 0.5
    assert config["block_out_channels"] == [8, 16, 16] and config["latent_channels"] == 4
    loaded = AutoencoderKL.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    ours, theirs = model.vae.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_saved_folder_loads_as_a_diffusers_vae(tmp_path):
    model = tiny().eval()
    folder = model.save_diffusers(tmp_path / "kl", scaling_factor=0.25)
    assert detect_format(folder) == "diffusers"
    described = describe_model_path(folder)
    assert described["error"] is None and described["kind"] == "diffusers"
    foreign = from_pretrained(folder, "cpu")
    assert foreign.family == "diffusers_kl" and foreign.latent_shape == (4, 4, 4)
    assert foreign.capabilities().spatial_code
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        # the same codes (scaled by the saved scaling_factor) and the same reconstructions
        assert torch.allclose(foreign.encode_code(x), model.encode_code(x), atol=1e-6)
        assert torch.allclose(model.encode_code(x), model.encode(x).mean * 0.25)
        assert torch.allclose(foreign.reconstruct(x), model.reconstruct(x), atol=1e-6)


def _run(folder, epochs, resume=False, stop_after=None):
    from explorer.data import load_dataset

    torch.manual_seed(0)
    data = load_dataset("photos", image_size=16, n_items=32, seed=0)
    model = tiny()
    config = TrainConfig(epochs=epochs, batch_size=8, lr=1e-3, beta=0.01, kl_schedule="constant", progress=False,
                         tensorboard=False)
    trainer = Trainer(model, data, config, folder, torch.device("cpu"))
    return fit_until(trainer, resume, stop_after)


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_uninterrupted_weights(tmp_path):
    straight, history = _run(tmp_path / "a", 2)
    _, partial = _run(tmp_path / "b", 2, stop_after=1)  # Ctrl-C after the first epoch's checkpoint
    assert partial is None
    resumed, resumed_history = _run(tmp_path / "b", 2, resume=True)
    assert resumed.step == straight.step == 8 and len(resumed_history) == 2
    assert resumed_history[1].loss == pytest.approx(history[1].loss, rel=1e-6)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    state = straight.optimizers["vae"].state_dict()["state"]
    again = resumed.optimizers["vae"].state_dict()["state"]
    assert all(torch.equal(state[k]["exp_avg"], again[k]["exp_avg"]) for k in state)


@pytest.mark.slow
def test_trains_through_train_py(tmp_path, monkeypatch):
    import explorer.data.photos as photos
    from explorer.cli.train import main

    monkeypatch.setattr(photos, "DEFAULT_ITEMS", 16)
    out = tmp_path / "run"
    code = main(["--model", "autoencoder_kl", "--dataset", "photos", "--image-size", "16", "--set",
                 "block_out_channels=[8,16,16]", "--set", "norm_num_groups=4", "--epochs", "1", "--batch-size", "8",
                 "--beta", "0.01", "--kl-schedule", "constant", "--iwae-k", "0", "--maps", "none", "--threads", "1",
                 "--no-progress", "--out", str(out)])
    assert code == 0
    loaded = from_pretrained(out, "cpu")
    assert loaded.family == "autoencoder_kl" and loaded.latent_shape == (4, 4, 4)
    assert json.loads((out / "config.json").read_text())["dataset"]["name"] == "photos"


@pytest.mark.slow
def test_teacher_export_writes_a_diffusers_folder_with_its_card(tmp_path, monkeypatch):
    from diffusers import AutoencoderKL

    import explorer.data.photos as photos
    from explorer.analysis.teacher import export_teacher, whole_photo_psnr
    from explorer.cli.train import main
    from explorer.data import load_dataset

    monkeypatch.setattr(photos, "DEFAULT_ITEMS", 16)
    run = tmp_path / "run"
    assert main(["--model", "autoencoder_kl", "--dataset", "photos", "--image-size", "16", "--set",
                 "block_out_channels=[8,16,16]", "--set", "norm_num_groups=4", "--epochs", "1", "--batch-size", "8",
                 "--iwae-k", "0", "--maps", "none", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    data = load_dataset("photos", image_size=16)
    out = tmp_path / "teacher"
    scores = export_teacher(run, out, data, recipe="python train.py ...")
    assert detect_format(out) == "diffusers"
    card = (out / "README.md").read_text()
    assert "chelsea, coffee, flower" in card and f"{scores['mean_psnr_whole_db']:.2f}" in card
    saved = json.loads((out / "teacher.json").read_text())
    assert saved["steps"] == 2 and saved["parameters"] == sum(p.numel() for p in from_pretrained(run).vae.parameters())
    config = json.loads((out / "config.json").read_text())
    assert config["scaling_factor"] == pytest.approx(scores["scaling_factor"]) and scores["scaling_factor"] > 0
    # the card's figure is what the folder gives, loaded by diffusers itself
    vae = AutoencoderKL.from_pretrained(str(out), local_files_only=True)
    chelsea = data.extras["held_out_photos"]["chelsea"]
    assert whole_photo_psnr(from_pretrained(out), chelsea) == pytest.approx(scores["psnr_whole_db"]["chelsea"])
    x = chelsea[:, :296, :448].float().div(255).unsqueeze(0)
    with torch.no_grad():
        recon = ((vae.decode(vae.encode(x * 2 - 1).latent_dist.mode()).sample + 1) / 2).clamp(0, 1)
    mse = float((recon.double() - x.double()).pow(2).mean())
    assert 10 * torch.log10(torch.tensor(1 / mse)).item() == pytest.approx(scores["psnr_whole_db"]["chelsea"], abs=1e-3)
