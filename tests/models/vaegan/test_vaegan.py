"""VAE/GAN (Larsen et al. 2016): each network's gradient comes from its own losses only, checked by autograd on
a tiny model; save -> load; the feature-space ELBO is labelled as such; the shipped model loads and samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.distributions import LOG_2PI
from explorer.models import build_model
from explorer.models.base import StepObjective
from explorer.models.vaegan import VAEGAN

SHIPPED = Path(__file__).resolve().parents[3] / "pretrained" / "vaegan-mnist5k"
GROUPS = ("encoder", "decoder", "discriminator")


def tiny(**extra) -> VAEGAN:
    torch.manual_seed(0)
    config = dict(input_shape=(1, 12, 12), latent_dim=3, channels=(4, 8), hidden_dim=16, dis_channels=(4, 6, 8),
                  dis_hidden=8, feature_layer=2, gamma=0.7, **extra)
    return build_model("vaegan", **config).double()


def groups(model: VAEGAN) -> dict[str, list[torch.nn.Parameter]]:
    return {"encoder": model.encoder_parameters(), "decoder": model.decoder_parameters(),
            "discriminator": model.discriminator_parameters()}


def grads(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    """d loss / d params, zeros where a parameter does not reach the loss."""
    got = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, got)]


def norm(gs: list[torch.Tensor]) -> float:
    return float(sum(g.pow(2).sum() for g in gs).sqrt())


def batch() -> torch.Tensor:
    return torch.rand(5, 1, 12, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def independent_terms(model: VAEGAN, x: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """The paper's three losses (batch means) written out here from the model's parts, drawing what the model
    draws from a generator seeded alike: L_prior, L_llike on Dis_l and L_GAN over a reconstruction and a prior
    sample."""
    gen = torch.Generator().manual_seed(seed)
    posterior = model.encode(x)
    z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen, dtype=x.dtype)
    z_p = torch.randn(z.shape, generator=gen, dtype=x.dtype)
    rec, prior = torch.sigmoid(model.body.decoder(model.body.dec_fc(z).view(-1, *model.body.feature_shape))), \
        torch.sigmoid(model.body.decoder(model.body.dec_fc(z_p).view(-1, *model.body.feature_shape)))
    dis = model.discriminator
    d = {name: dis(img)[0] for name, img in (("real", x), ("rec", rec), ("prior", prior))}
    kl = 0.5 * (posterior.mean.pow(2) + posterior.logvar.exp() - 1 - posterior.logvar).sum(1)
    llike = 0.5 * ((dis.features(x).detach() - dis.features(rec)).pow(2) + LOG_2PI).sum(1)
    gan = -(F.logsigmoid(d["real"]) + torch.log1p(-torch.sigmoid(d["rec"])) + torch.log1p(-torch.sigmoid(d["prior"])))
    generator = -(F.logsigmoid(d["rec"]) + F.logsigmoid(d["prior"]))  # the non-saturating decoder term L_G
    return {"prior": kl.mean(), "llike": llike.mean(), "gan": gan.mean(), "generator": generator.mean()}


def step_grads(model: VAEGAN, x: torch.Tensor, seed: int) -> dict[str, list[torch.Tensor]]:
    """The gradients `training_step` applies: SGD with lr = 0 leaves them on the parameters and the weights as
    they were."""
    opts = {name: torch.optim.SGD(params, lr=0.0) for name, params in groups(model).items()}
    model.training_step((x,), StepObjective(), opts, torch.Generator().manual_seed(seed))
    return {name: [p.grad.clone() for p in params] for name, params in groups(model).items()}


def test_the_three_groups_partition_the_parameters():
    model = tiny()
    ids = [id(p) for params in groups(model).values() for p in params]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


@pytest.mark.parametrize("generator_loss", ["non_saturating", "minimax"])
def test_each_network_gets_the_gradient_of_its_own_losses_only(generator_loss):
    model = tiny(generator_loss=generator_loss)
    x = batch()
    terms = independent_terms(model, x, seed=7)
    g = groups(model)
    by_term = {t: {n: grads(terms[t], g[n]) for n in GROUPS} for t in terms}
    # which networks each loss reaches at all (so the routing below has something to exclude)
    assert norm(by_term["prior"]["decoder"]) == 0 and norm(by_term["prior"]["discriminator"]) == 0
    assert norm(by_term["prior"]["encoder"]) > 0
    for net in GROUPS:  # L_llike reaches the discriminator's weights too, and L_GAN the encoder's
        assert norm(by_term["llike"][net]) > 0 and norm(by_term["gan"][net]) > 0, net

    got = step_grads(model, x, seed=7)
    gamma = model.config.gamma
    # the decoder's GAN gradient: -grad L_GAN (the paper's minimax), or grad L_G (non-saturating)
    adversarial = ([-a for a in by_term["gan"]["decoder"]] if generator_loss == "minimax"
                   else by_term["generator"]["decoder"])
    want = {
        "encoder": [a + b for a, b in zip(by_term["prior"]["encoder"], by_term["llike"]["encoder"])],
        "decoder": [gamma * a + b for a, b in zip(by_term["llike"]["decoder"], adversarial)],
        "discriminator": by_term["gan"]["discriminator"],
    }
    for net in GROUPS:
        for a, b in zip(got[net], want[net]):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    # and the step's gradient is not what the excluded terms would have made of it
    leaked_enc = [a - b for a, b in zip(want["encoder"], by_term["gan"]["encoder"])]
    leaked_dis = [a + b for a, b in zip(want["discriminator"], by_term["llike"]["discriminator"])]
    assert norm([a - b for a, b in zip(got["encoder"], leaked_enc)]) > 1e-6
    assert norm([a - b for a, b in zip(got["discriminator"], leaked_dis)]) > 1e-6


@pytest.mark.parametrize("on_reals, on_fakes, want", [
    (0.69, 0.69, (True, True)),  # inside the band: both train
    (0.10, 0.69, (False, True)),  # the discriminator wins on reals: it skips its update
    (0.69, 0.10, (False, True)),  # ... or on fakes
    (1.50, 0.69, (True, False)),  # it loses: the decoder's GAN term is dropped
    (0.10, 1.50, (True, True)),  # winning on one and losing on the other: never both off
])
def test_the_equilibrium_rule_picks_the_players(on_reals, on_fakes, want):
    model = tiny(equilibrium=0.68, margin=0.35)
    # logits whose cross-entropies are the given values: -log D(x) = softplus(-logit) = on_reals
    real = torch.full((5,), -float(torch.log(torch.expm1(torch.tensor(on_reals, dtype=torch.float64)))))
    fake = torch.full((5, 2), float(torch.log(torch.expm1(torch.tensor(on_fakes, dtype=torch.float64)))))
    assert model.players_to_train(real, fake) == want
    assert tiny().players_to_train(real, fake) == (True, True)  # off by default


def test_a_skipped_player_gets_no_update_and_the_decoder_keeps_its_likelihood():
    """With a discriminator that wins (margin 0: any loss below equilibrium) its weights stay put; with one that
    loses, the decoder's gradient is gamma * grad L_llike alone."""
    x = batch()
    winning = tiny(equilibrium=50.0, margin=0.0)  # every loss is below 50: the discriminator 'wins'
    before = [p.detach().clone() for p in winning.discriminator_parameters()]
    logged = winning.training_step((x,), StepObjective(), winning.configure_optimizers(1e-2), torch.Generator().manual_seed(0))
    assert float(logged["d_trained"]) == 0.0 and float(logged["g_trained"]) == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, winning.discriminator_parameters()))

    losing = tiny(equilibrium=1e-3, margin=0.0)  # every loss is above it: the discriminator 'loses'
    terms = independent_terms(losing, x, seed=7)
    want = [losing.config.gamma * g for g in grads(terms["llike"], losing.decoder_parameters())]
    got = step_grads(losing, x, seed=7)["decoder"]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_equilibrium_needs_the_non_saturating_term():
    with pytest.raises(ValueError, match="non_saturating"):
        tiny(equilibrium=0.68, generator_loss="minimax")
    with pytest.raises(ValueError, match="0 or more"):
        tiny(equilibrium=-1.0)


def test_training_moves_every_network():
    model = tiny().float()
    before = {n: [p.detach().clone() for p in params] for n, params in groups(model).items()}
    opts = model.configure_optimizers(1e-3)
    assert set(opts) == set(GROUPS)
    logged = model.training_step((batch().float(),), StepObjective(), opts, torch.Generator().manual_seed(0))
    assert {"loss", "nll", "kl", "gan", "d_real", "d_fake"} <= set(logged)
    assert all(torch.isfinite(v) for v in logged.values())
    for n, params in groups(model).items():
        assert any(not torch.equal(a, b) for a, b in zip(before[n], params)), n


def test_the_step_runs_its_whole_forward_through_self_for_ddp():
    """Under torchrun the trainer routes `self(...)` through DistributedDataParallel (explorer.distributed.
    ddp_forward); the step's one forward pass must go that way, or the processes' gradients are not averaged
    (a 2-process run then stops at check_replicas). A recording module stands in for the DDP wrapper."""
    from explorer.distributed import ddp_forward

    model = tiny().float()
    calls: list[bool] = []

    class Recorder(torch.nn.Module):
        def __init__(self, inner: VAEGAN):
            super().__init__()
            self.inner = [inner]  # a list: not a submodule

        def forward(self, *args, **kwargs):
            calls.append(kwargs.get("objective") is not None)
            return self.inner[0](*args, **kwargs)

    with ddp_forward(model, Recorder(model)):
        logged = model.training_step((batch().float(),), StepObjective(), model.configure_optimizers(1e-3),
                                     torch.Generator().manual_seed(0))
    assert calls == [True] and torch.isfinite(logged["loss"])
    assert "forward" not in vars(model)  # the routing is undone after the step


def test_save_load_gives_identical_outputs(tmp_path):
    model = tiny().float().eval()
    save_pretrained(model, tmp_path / "m")
    loaded = from_pretrained(tmp_path / "m", "cpu").eval()
    assert isinstance(loaded, VAEGAN) and loaded.config == model.config
    x = batch().float()
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.encode(x).mean, loaded.encode(x).mean)
        assert torch.equal(model.decode(z).mean, loaded.decode(z).mean)
        assert torch.equal(model.similarity_features(x), loaded.similarity_features(x))
        assert torch.equal(model.discriminator(x)[0], loaded.discriminator(x)[0])
        same = [m.sample(4, generator=torch.Generator().manual_seed(2)) for m in (model, loaded)]
        assert torch.equal(*same)


def test_feature_space_elbo_and_iwae_agree_and_are_labelled():
    from explorer.analysis.evaluation import evaluate
    from explorer.card import metrics_lines, summary_line
    from explorer.data.base import TensorImageDataset

    model = tiny().float().eval()
    x = batch().float()
    with torch.no_grad():
        terms = model.elbo_terms(x, torch.Generator().manual_seed(0))
        log_w = model.iwae_log_weights(x, 1, torch.Generator().manual_seed(0))
        # the same draw z scored both ways: one IWAE weight is log p(Dis_l(x) | z) + log p(z) - log q(z | x)
        posterior = model.encode(x)
        z = posterior.rsample(torch.Generator().manual_seed(0))
        log_p_z = (-0.5 * (LOG_2PI + z.pow(2))).sum(1)
        torch.testing.assert_close(log_w[:, 0], -terms["nll"] + log_p_z - posterior.log_prob(z).sum(1))
        f = model.discriminator.features(x)
        assert terms["nll"].shape == (5,) and f.shape == (5, model.discriminator.feature_size)
    assert not model.capabilities().pixel_likelihood and model.capabilities().learned_similarity
    metrics, _ = evaluate(model, TensorImageDataset(x, torch.zeros(5, dtype=torch.long)), "gaussian", iwae_k=3)
    assert metrics["likelihood_space"] == "features" and "elbo_bits_per_dim" not in metrics
    assert "no pixel likelihood" in metrics["protocol"] and "feature" in metrics["likelihood_description"]
    assert "feature-space ELBO" in summary_line("vaegan", "toy", metrics)
    assert any(line.startswith("| elbo_nats (feature space) |") for line in metrics_lines(metrics))


def test_a_binarised_likelihood_is_refused():
    with pytest.raises(ValueError, match="likelihood gaussian"):
        build_model("vaegan", input_shape=(1, 12, 12), likelihood="bernoulli")


@pytest.mark.skipif(not (SHIPPED / "metrics.json").is_file(), reason="pretrained/vaegan-mnist5k is not here")
def test_the_shipped_model_loads_and_samples():
    model = from_pretrained(SHIPPED, "cpu").eval()
    assert model.family == "vaegan"
    samples = model.sample(16, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (16, 1, 28, 28) and torch.isfinite(samples).all()
    assert 0 <= float(samples.min()) and float(samples.max()) <= 1
    assert float(samples.std(0).mean()) > 0.02  # different draws give different digits, not one image
    again = model.sample(16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert metrics["likelihood_space"] == "features" and metrics["active_units"] >= 2
    card = (SHIPPED / "README.md").read_text()
    assert "feature-space ELBO" in card and "beside_plain_vae.png" in card and (SHIPPED / "beside_plain_vae.png").is_file()


def test_a_checkpoint_saved_before_the_generator_loss_option_says_minimax(tmp_path):
    import json

    from explorer.checkpoint import from_pretrained, save_pretrained

    model = tiny().float()
    assert model.config.generator_loss == "non_saturating"  # the default for new models
    folder = save_pretrained(model.eval(), tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["config"]["generator_loss"]
    (folder / "config.json").write_text(json.dumps(config))
    assert from_pretrained(folder, device="cpu").config.generator_loss == "minimax"
    with pytest.raises(ValueError, match="generator_loss"):
        tiny(generator_loss="wasserstein")
