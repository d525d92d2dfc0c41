"""The conditional VAE: the label in encoder and decoder, save -> load -> equal outputs, the interface's
condition= everywhere, evaluation given the labels, refusals of unlabelled data."""

from __future__ import annotations

import pytest
import torch

from explorer.analysis.evaluation import evaluate, score_items
from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.data.base import UNLABELLED, DataSplit, TensorImageDataset
from explorer.latent import style_class_grid
from explorer.models import build_model
from explorer.models.blocks.conditioning import with_default_condition
from explorer.models.cvae import CVAE, CVAEConfig
from explorer.training import TrainConfig, Trainer
from tests.support.tinydata import make_split


def tiny(body: str = "conv", **extra) -> CVAE:
    torch.manual_seed(0)
    fields = {"channels": (4, 8), "hidden_dim": 16} if body == "conv" else {"hidden_sizes": (32,)}
    return build_model("cvae", input_shape=(1, 8, 8), latent_dim=3, body=body, n_classes=3,
                       class_names=("a", "b", "c"), **fields, **extra)


@pytest.mark.parametrize("body", ["conv", "mlp"])
def test_save_load_gives_equal_outputs(tmp_path, body):
    model = tiny(body).eval()
    save_pretrained(model, tmp_path / "m")
    loaded = from_pretrained(tmp_path / "m", device="cpu")
    assert isinstance(loaded, CVAE) and loaded.config == model.config
    assert loaded.config.class_names == ("a", "b", "c")
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    assert torch.equal(model.reconstruct(x, condition=y), loaded.reconstruct(x, condition=y))
    assert torch.equal(model.encode_code(x, condition=y), loaded.encode_code(x, condition=y))
    z = torch.randn(4, 3)
    assert torch.equal(model.decode_code(z, condition=2), loaded.decode_code(z, condition=2))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.sample(5, g1, condition=1), loaded.sample(5, g2, condition=1))


def test_the_label_enters_every_conv_decoder_layer_and_older_checkpoints_load_as_built(tmp_path):
    import json

    every, beside_z = tiny(), tiny(label_every_layer=False)
    assert every.config.label_every_layer  # the default for new models
    deconvs = lambda m: [l for l in m.decoder if isinstance(l, torch.nn.ConvTranspose2d)]
    # each transposed convolution takes its features plus the 3 label planes, or only its features
    assert [l.in_channels for l in deconvs(every)] == [l.in_channels + 3 for l in deconvs(beside_z)]
    # a checkpoint saved before the option existed (no label_every_layer in config.json) loads with the label beside z
    folder = save_pretrained(beside_z.eval(), tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["config"]["label_every_layer"]
    (folder / "config.json").write_text(json.dumps(config))
    loaded = from_pretrained(folder, device="cpu")
    assert loaded.config.label_every_layer is False
    z = torch.randn(4, 3)
    assert torch.equal(loaded.decode_code(z, condition=1), beside_z.decode_code(z, condition=1))


@pytest.mark.parametrize("body", ["conv", "mlp"])
def test_the_label_enters_encoder_and_decoder(body):
    model = tiny(body).eval()
    x, z = torch.rand(2, 1, 8, 8), torch.randn(2, 3)
    assert not torch.equal(model.encode(x, condition=0).mean, model.encode(x, condition=1).mean)
    assert not torch.equal(model.decode(z, condition=0).mean, model.decode(z, condition=2).mean)
    # one int is the same as that class for the whole batch
    assert torch.equal(model.decode(z, condition=2).mean, model.decode(z, condition=torch.tensor([2, 2])).mean)
    assert model.capabilities().condition_classes == 3 and not model.capabilities().labels


def test_missing_or_unlabelled_condition_is_refused_naming_the_capability():
    model = tiny()
    x = torch.rand(2, 1, 8, 8)
    for call in (lambda: model.encode(x), lambda: model.reconstruct(x), lambda: model.sample(2),
                 lambda: model.elbo_terms(x), lambda: model.loss_terms((x,))):
        with pytest.raises(ValueError, match="condition_classes"):
            call()
    with pytest.raises(ValueError, match="unlabelled"):
        model.loss_terms((x, torch.tensor([0, UNLABELLED])))
    with pytest.raises(ValueError, match="outside"):
        model.encode(x, condition=3)


def test_iwae_weights_repeat_the_condition_per_draw():
    from explorer.distributions import standard_normal_log_prob

    model = tiny().eval()
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([0, 2, 1])
    w = model.iwae_log_weights(x, 4, torch.Generator().manual_seed(0), condition=y)
    # reference: the same draws, each image's k codes decoded one by one under its own class
    draws = model.encode(x, condition=y).expand_draws(4)
    z = draws.rsample(torch.Generator().manual_seed(0))  # (3, 4, D)
    log_q = draws.log_prob(z).sum(2)
    ref = torch.empty(3, 4)
    for i in range(3):
        for j in range(4):
            log_px = model.decode(z[i, j][None], condition=int(y[i])).log_prob(x[i][None]).sum()
            ref[i, j] = log_px + standard_normal_log_prob(z[i, j]).sum() - log_q[i, j]
    assert w.shape == (3, 4) and torch.allclose(w, ref, atol=1e-4)


def test_default_condition_view_and_style_class_grid():
    model = tiny().eval()
    view = with_default_condition(model, 2)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(view.reconstruct(x), model.reconstruct(x, condition=2))
    assert torch.equal(view.reconstruct(x, condition=1), model.reconstruct(x, condition=1))
    assert view.capabilities() == model.capabilities() and set(view.parameters()) == set(model.parameters())
    codes = torch.randn(2, 3)
    grid = style_class_grid(model, codes, [0, 2])
    assert grid.shape == (4, 1, 8, 8)
    assert torch.allclose(grid[1], model.decode_code(codes[:1], condition=2)[0])
    assert torch.allclose(grid[2], model.decode_code(codes[1:], condition=0)[0])
    with pytest.raises(ValueError, match="not conditional"):
        with_default_condition(build_model("mlp", input_shape=(1, 8, 8), latent_dim=2, hidden_sizes=(8,)), 0)


def test_evaluation_passes_the_labels_and_refuses_unlabelled_items():
    model = tiny().eval()
    data = make_split()
    metrics, arrays = evaluate(model, data.test, "bernoulli", iwae_k=3)
    assert metrics["test_items"] == len(data.test) and "elbo_nats" in metrics
    # the scores are those given each item's own label
    from explorer.analysis.evaluation import scoring_inputs
    from explorer.data.base import stack_images

    images, labels = stack_images(data.test)
    x = scoring_inputs(images, "bernoulli")
    given = score_items(model, x, iwae_k=0, labels=labels)
    assert torch.allclose(torch.from_numpy(arrays["score_elbo"]), given.elbo)
    wrong = score_items(model, x, iwae_k=0, labels=(labels + 1) % 3)
    assert not torch.allclose(wrong.elbo, given.elbo)
    with pytest.raises(ValueError, match="without labels"):
        score_items(model, x, iwae_k=0)
    unlabelled = TensorImageDataset((images * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="unlabelled"):
        evaluate(model, unlabelled, "bernoulli", iwae_k=0)


def test_config_from_the_data_and_unlabelled_data_refused():
    data = make_split()
    values = CVAE.adapt_config_to_data({"input_shape": data.image_shape}, data)
    assert values["n_classes"] == 3 and values["class_names"] == ("a", "b", "c")
    with pytest.raises(ValueError, match="comes from the data set"):
        CVAE.adapt_config_to_data({"n_classes": 5}, data)
    blank = DataSplit("blank", data.train, data.test, data.image_shape, "bernoulli", classes=None)
    with pytest.raises(ValueError, match="unlabelled"):
        CVAE.adapt_config_to_data({}, blank)
    with pytest.raises(ValueError, match="n_classes"):
        CVAE(CVAEConfig(input_shape=(1, 8, 8)))


def test_trains_and_the_trainer_scores_with_labels(tmp_path):
    data = make_split()
    model = tiny()
    cfg = TrainConfig(epochs=2, batch_size=16, tensorboard=True, progress=False)
    history = Trainer(model, data, cfg, tmp_path, torch.device("cpu")).fit()
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(r.test_elbo)) for r in history)


def test_train_cli_trains_a_cvae_and_refuses_unlabelled_data(tmp_path):
    from explorer.cli.train import main

    out = tmp_path / "cv"
    assert main(["--model", "cvae", "--dataset", "digits", "--latent-dim", "2", "--channels", "4,8", "--hidden-dim",
                 "16", "--epochs", "1", "--maps", "none", "--iwae-k", "2", "--out", str(out), "--no-progress",
                 "--no-tensorboard"]) == 0
    loaded = from_pretrained(out, device="cpu")
    assert loaded.capabilities().condition_classes == 10 and loaded.config.class_names == tuple(str(d) for d in range(10))
    assert (out / "samples.png").is_file()


def test_train_cli_refuses_unlabelled_data(tmp_path, capsys, monkeypatch):
    from explorer.cli import train

    def unlabelled(name, **kwargs):
        data = make_split()
        return DataSplit("blank", data.train, data.test, data.image_shape, "bernoulli", classes=None)

    monkeypatch.setattr(train, "load_dataset", unlabelled)  # where the train command finds it
    assert train.main(["--model", "cvae", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "o")]) == 2
    assert "unlabelled" in capsys.readouterr().err
