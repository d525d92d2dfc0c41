"""The explicit model interface: a subclass that defines only encode and decode gets everything else."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from explorer.analysis.captions import epoch_summary
from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.distributions import DiagonalGaussian
from explorer.models.base import Capabilities, StepObjective, eval_mode, posterior_kl
from explorer.models.registry import family_capabilities
from explorer.training import TrainConfig, Trainer
from tests.support.minimal_family import MinimalConfig, MinimalVAE
from tests.support.tinydata import make_split


class SampledKLGaussian(DiagonalGaussian):
    """The same Gaussian, declaring no closed-form KL (as a flow posterior would)."""

    has_analytic_kl = False

    def kl_at(self, z: Tensor) -> Tensor:
        """The plain one-draw estimate log q(z) - log p(z)."""
        return self.log_prob(z) + 0.5 * (math.log(2 * math.pi) + z.pow(2))

    def expand_draws(self, k: int) -> "SampledKLGaussian":
        base = super().expand_draws(k)
        return SampledKLGaussian(base.mean, base.logvar)


def tiny(latent_dim: int = 3) -> MinimalVAE:
    return MinimalVAE(MinimalConfig(input_shape=(1, 8, 8), latent_dim=latent_dim))


def test_defaults_of_the_interface():
    model = tiny()
    caps = model.capabilities()
    assert caps == Capabilities(item_keyed_noise=True) and caps.trainable and not caps.captions and not caps.labels
    assert family_capabilities("minimal-test", model.config.to_dict()) == caps
    assert model.extra_files() == {} and epoch_summary(model, None, "cpu") == {}  # neither labels nor captions
    assert MinimalVAE.adapt_config_to_data({"a": 1}, None) == {"a": 1}
    assert "Bernoulli" in model.likelihood_description()
    with pytest.raises(NotImplementedError):
        model.captions(torch.zeros(1, 3))
    with pytest.raises(NotImplementedError):
        model.label_probabilities(torch.zeros(1, 3))
    x = torch.rand(4, 1, 8, 8)
    code = model.encode_code(x)
    assert code.shape == (4, 3) and torch.equal(code, model.encode(x).mean)
    assert torch.equal(model.decode_code(code), model.decode(code).mean)


def test_everything_else_comes_from_the_base_class():
    model = tiny().eval()
    x = torch.rand(5, 1, 8, 8).round()
    gen = torch.Generator().manual_seed(0)
    terms = model.loss_terms((x,), gen)
    assert terms["nll"].shape == (5,) and terms["kl_dims"].shape == (5, 3)
    assert model.iwae_log_weights(x, 7, gen).shape == (5, 7)
    assert model.sample(6, generator=gen).shape == (6, 1, 8, 8)
    assert model.reconstruct(x).shape == x.shape
    assert model.interpolate(x[0], x[1], 4).shape == (4, 1, 8, 8)


def test_training_step_owns_its_optimisers_and_lowers_the_loss():
    torch.manual_seed(0)
    model = tiny().train()
    optimizers = model.configure_optimizers(lr=1e-2)
    assert list(optimizers) == ["vae"]
    x = torch.rand(32, 1, 8, 8).round()
    objective = StepObjective(beta=1.0)
    first = model.training_step((x,), objective, optimizers, torch.Generator().manual_seed(0))
    assert set(first) >= {"loss", "nll", "kl"} and not first["loss"].requires_grad
    for step in range(30):
        last = model.training_step((x,), objective, optimizers, torch.Generator().manual_seed(step))
    assert float(last["loss"]) < float(first["loss"])


def test_training_step_scales_fp16_gradients_through_the_objective():
    # a power-of-two loss scale is exact: the scaled step, clipped after unscaling, equals the plain one
    x = (torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    after = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)):
        torch.manual_seed(0)
        model = tiny()
        optimizers = model.configure_optimizers(1e-2)
        objective = StepObjective(beta=1.0, grad_clip=1.0, scaler=scaler)
        model.training_step((x,), objective, optimizers, torch.Generator().manual_seed(0))
        after.append([p.detach().clone() for p in model.parameters()])
    for plain, scaled in zip(*after):
        torch.testing.assert_close(plain, scaled)


def test_a_minimal_family_trains_saves_and_loads(tmp_path):
    data = make_split()
    model = tiny()
    Trainer(model, data, TrainConfig(epochs=1, batch_size=16, tensorboard=False, progress=False), tmp_path / "run",
            torch.device("cpu")).fit()
    save_pretrained(model, tmp_path / "ck")
    loaded = from_pretrained(tmp_path / "ck")
    assert isinstance(loaded, MinimalVAE)
    z = torch.randn(2, 3)
    assert torch.equal(model.eval().decode_code(z), loaded.decode_code(z))


def test_kl_is_closed_form_only_where_the_posterior_declares_it():
    mean, logvar = torch.randn(4000, 2), torch.randn(4000, 2) * 0.3
    exact = DiagonalGaussian(mean, logvar)
    sampled = SampledKLGaussian(mean, logvar)
    z = exact.rsample(torch.Generator().manual_seed(123))  # not seed 0: that stream drew `mean` itself
    assert torch.equal(posterior_kl(exact, z), exact.kl())
    estimate = posterior_kl(sampled, z)
    assert not torch.equal(estimate, exact.kl())
    # the one-draw estimate is unbiased: its mean over many items matches the closed form
    assert float(estimate.mean()) == pytest.approx(float(exact.kl().mean()), abs=0.03)


def test_base_losses_use_the_sampled_kl_for_a_posterior_without_closed_form():
    class FlowLike(MinimalVAE):
        family = "minimal-flowlike-test"

        def encode(self, x: Tensor) -> SampledKLGaussian:
            base = super().encode(x)
            return SampledKLGaussian(base.mean, base.logvar)

    model = FlowLike(MinimalConfig(input_shape=(1, 8, 8), latent_dim=3)).eval()
    x = torch.rand(3, 1, 8, 8).round()
    terms = model.elbo_terms(x, torch.Generator().manual_seed(1))
    posterior = model.encode(x)
    z = posterior.rsample(torch.Generator().manual_seed(1))
    assert torch.allclose(terms["kl_dims"], posterior.log_prob(z) - (-0.5 * (math.log(2 * math.pi) + z.pow(2))))
    # ELBO (averaged over draws) <= IWAE, with the sampled KL in the one and log q in the other
    with torch.no_grad():
        gen = torch.Generator().manual_seed(2)
        draws = [model.elbo_terms(x, gen) for _ in range(200)]
        elbo = torch.stack([-(t["nll"] + t["kl_dims"].sum(1)) for t in draws]).mean(0)
        iwae = torch.logsumexp(model.iwae_log_weights(x, 200, gen), 1) - math.log(200)
    assert bool((elbo <= iwae + 1e-3).all())


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_mode_the_model_had_also_after_a_raise(training):
    model = tiny().train(training)
    with eval_mode(model) as inside:
        assert inside is model and not model.training and not model.dec.training
    assert model.training is training and model.dec.training is training
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("a failed scoring")
    assert model.training is training
