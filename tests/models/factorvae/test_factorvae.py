"""FactorVAE: the discriminator learns from its own loss only, the VAE's penalty is gamma x D's logit gap,
permutations are of the marginals, save / load."""

import pytest
import torch

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models import build_model
from explorer.models.base import StepObjective
from explorer.models.factorvae import FactorVAE, permute_dims


def tiny(**kw):
    torch.manual_seed(0)
    kw = {"disc_hidden": 8, "disc_layers": 2, **kw}
    return build_model("factorvae", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,), **kw)


def batch(n=6):
    return (torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.5).float()


def test_permute_dims_shuffles_each_dimension_on_its_own():
    z = torch.arange(40.0).view(10, 4)
    p = permute_dims(z, torch.Generator().manual_seed(0))
    for d in range(4):
        assert sorted(p[:, d].tolist()) == z[:, d].tolist()  # the same marginal
    assert not all(torch.equal(torch.argsort(p[:, 0]), torch.argsort(p[:, d])) for d in range(1, 4))


def test_the_discriminator_gets_gradients_only_from_its_own_loss():
    model = tiny(tc_weight=50.0)
    opt = {name: torch.optim.SGD(o.param_groups[0]["params"], lr=0.0) for name, o in model.configure_optimizers(1e-3).items()}
    # the gradient D should get: its own loss alone, on the same codes and the same permutation
    g = torch.Generator().manual_seed(3)  # the step draws the codes, then the permutation, from one generator
    terms, z = model._terms(batch(), g)
    expected = torch.autograd.grad(model.discriminator_loss(z, g), list(model.discriminator.parameters()))
    model.training_step((batch(),), StepObjective(), opt, torch.Generator().manual_seed(3))
    for p, g in zip(model.discriminator.parameters(), expected):
        torch.testing.assert_close(p.grad, g)
    # and the VAE's penalty does reach the encoder
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.vae_parameters())


def test_the_penalty_is_gamma_times_the_logit_gap_and_a_step_trains_both():
    model = tiny(tc_weight=10.0)
    terms, z = model._terms(batch(), torch.Generator().manual_seed(4))
    logits = model.discriminator(z)
    torch.testing.assert_close(terms["tc_penalty"], 10.0 * (logits[:, 0] - logits[:, 1]))
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    logged = model.training_step((batch(),), StepObjective(), model.configure_optimizers(1e-3),
                                 torch.Generator().manual_seed(0))
    assert torch.isfinite(logged["loss"]) and torch.isfinite(logged["d_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert not model.capabilities().item_keyed_noise


def test_save_load_gives_identical_outputs(tmp_path):
    model = tiny().eval()
    save_pretrained(model, tmp_path / "m")
    loaded = from_pretrained(tmp_path / "m", "cpu").eval()
    assert isinstance(loaded, FactorVAE) and loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(model.encode(batch()).mean, loaded.encode(batch()).mean)
        z = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
        assert torch.equal(model.discriminator(z), loaded.discriminator(z))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="iaf_steps must be 0"):
        tiny(iaf_steps=1)
    with pytest.raises(ValueError, match="disc_hidden and disc_layers must be positive"):
        tiny(disc_layers=0)
