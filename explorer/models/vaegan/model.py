"""VAEGAN: Larsen et al. 2016's VAE/GAN on the explicit interface.

Encoder and decoder are the conv family's (a ConvVAE body, Gaussian posterior). A discriminator Dis scores
images as real or fake, and its l-th conv layer's output Dis_l carries the reconstruction likelihood:

    p(Dis_l(x) | z) = N(Dis_l(x); Dis_l(Dec(z)), I)                        (the paper's eq. 6)

The paper's three losses, per sample (B,), with x~ = Dec(z), z ~ q(z | x), and x_p = Dec(z_p), z_p ~ N(0, I):

    L_prior = KL(q(z | x) || N(0, I))
    L_llike = -log p(Dis_l(x) | z) = 1/2 ||Dis_l(x) - Dis_l(x~)||^2 + F/2 log 2 pi
    L_GAN   = -[log D(x) + log(1 - D(x~)) + log(1 - D(x_p))]   (the discriminator's cross-entropy)

and the paper's updates (Algorithm 1), each network from its own terms only:

    encoder       <- grad (L_prior + L_llike)          (the objective's beta and free bits act on L_prior)
    decoder       <- grad (gamma * L_llike - L_GAN)
    discriminator <- grad L_GAN

Here L_GAN carries the sign that makes "the discriminator minimises L_GAN, the decoder maximises it" read as
in the paper's Algorithm 1 (its eq. 4 writes the same quantity with the opposite sign). The encoder never sees
L_GAN and the discriminator never sees L_llike: `step_losses` builds one graph whose single backward pass gives
each network exactly these gradients (detached discriminator weights, a detached code, gradient scaling).

There is no pixel likelihood: the ELBO this model reports (`elbo_terms`, `iwae_log_weights`) is of Dis_l(x)
in feature space (`capabilities().pixel_likelihood` is False). `decode` still returns a pixel Gaussian with a
fixed scale around the decoded image, so pages can show its mean; its log-density was never trained.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from explorer.distributions import LOG_2PI, randn_like, standard_normal_log_prob
from explorer.models.base import VAE, Capabilities, Condition, StepObjective, VAEOutput, posterior_kl
from explorer.models.conv import ConvConfig, ConvVAE
from explorer.models.registry import register_model
from explorer.models.vaegan.config import VAEGANConfig
from explorer.models.vaegan.discriminator import Discriminator

class _ScaleGradient(torch.autograd.Function):
    """Identity forward; the gradient multiplied by `scale` backward (scale -1: a gradient reversal layer,
    Ganin and Lempitsky 2015). A few lines of autograd that torch has no op for."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.scale, None


def scale_gradient(x: Tensor, scale: float) -> Tensor:
    """x unchanged, its gradient times `scale` on the way back."""
    return _ScaleGradient.apply(x, scale)


# Adam with beta1 = 0.5 for all three networks, as DCGAN (Radford et al. 2016) trains its GAN: the default 0.9
# keeps too much momentum for two networks chasing each other
ADAM_BETAS = (0.5, 0.999)


@register_model
class VAEGAN(VAE):
    family = "vaegan"
    config_class = VAEGANConfig

    def __init__(self, config: VAEGANConfig):
        super().__init__(config)
        body = ConvConfig(input_shape=config.input_shape, latent_dim=config.latent_dim, likelihood="gaussian",
                          learn_scale=False, init_log_scale=config.init_log_scale, channels=config.channels,
                          hidden_dim=config.hidden_dim, batch_norm=config.batch_norm, activation=config.activation)
        self.body = ConvVAE(body)  # encoder, decoder and the fixed-scale pixel Gaussian of the conv family
        self.discriminator = Discriminator(config.input_shape, config.dis_channels, config.dis_hidden,
                                           config.likelihood_layer)

    # -- the interface ------------------------------------------------------------------------------
    def encode(self, x: Tensor):
        """Images (B, C, H, W) in [0, 1] -> q(z | x), a DiagonalGaussian over (B, D)."""
        return self.body.encode(x)

    def decode(self, z: Tensor):
        """Codes (B, D) -> the decoded image as the mean of a fixed-scale pixel Gaussian (B, C, H, W)."""
        return self.body.decode(z)

    @classmethod
    def config_capabilities(cls, config: VAEGANConfig) -> Capabilities:
        return Capabilities(pixel_likelihood=False, learned_similarity=True)

    def similarity_features(self, x: Tensor) -> Tensor:
        """Dis_l(x) (B, F): the features the reconstruction likelihood compares, a learned similarity."""
        return self.discriminator.features(x)

    def likelihood_description(self) -> str:
        d = self.discriminator
        shape = "x".join(map(str, d.feature_shape))
        return (f"no pixel likelihood: N(Dis_l(x); Dis_l(x̃), I) on the discriminator's layer-{d.layer} features "
                f"({shape} = {d.feature_size} numbers), so ELBO and NLL are in feature space, not comparable with "
                "pixel-likelihood models; the per-pixel map uses a fixed-scale Gaussian the model was not trained on")

    # -- parameter groups: each network is updated by its own loss only ----------------------------------
    def encoder_parameters(self) -> list[torch.nn.Parameter]:
        b = self.body
        return [*b.encoder.parameters(), *b.enc_fc.parameters(), *b.to_stats.parameters()]

    def decoder_parameters(self) -> list[torch.nn.Parameter]:
        return [*self.body.dec_fc.parameters(), *self.body.decoder.parameters()]

    def discriminator_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.discriminator.parameters())

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict[str, torch.optim.Optimizer]:
        """One Adam per network (see ADAM_BETAS)."""
        groups = {"encoder": self.encoder_parameters(), "decoder": self.decoder_parameters(),
                  "discriminator": self.discriminator_parameters()}
        return {name: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=ADAM_BETAS)
                for name, params in groups.items()}

    # -- the losses -------------------------------------------------------------------------------------
    def feature_nll(self, real_features: Tensor, images: Tensor) -> Tensor:
        """-log N(Dis_l(x); Dis_l(images), I) per image (B,), given Dis_l(x) (B, F) and decoded images (B, C, H, W)."""
        diff = real_features - self.discriminator.features(images)
        return 0.5 * (diff.pow(2) + LOG_2PI).sum(1)

    def step_losses(self, batch: Any, objective: StepObjective,
                    generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One forward pass whose single backward gives each network the gradient of its own losses only.

        Returns the scalar `total` to differentiate and the per-sample terms (B,): `kl_dims` (B, D), `llike`,
        `gan`, and the logits `real_logits` (B,) and `fake_logits` (B, 2) of x~ and x_p. How the one backward
        routes the paper's updates (tests/models/vaegan/test_vaegan.py checks it against each loss's own gradient):

        - L_llike flows into Dis_l with the discriminator's weights detached (torch.func.functional_call), so
          the discriminator gets nothing from it; it enters the total as gamma * L_llike, and the code z the
          decoder reads on that path has its gradient scaled by 1 / gamma, so the decoder gets
          gamma * grad L_llike and the encoder grad L_llike;
        - L_GAN is scored on x~ decoded from z detached (the encoder gets nothing from it) and on x_p, and the
          discriminator gets grad L_GAN. The decoder gets, with `generator_loss = "minimax"` (the paper's),
          -grad L_GAN through a gradient reversal; with "non_saturating" (the default), the gradient of
          L_G = -log D(x~) - log D(x_p) through the discriminator's detached weights, which stays large when the
          discriminator wins (with minimax the shipped model's decoder learned neither samples nor
          reconstructions: D(x) 0.997, D(fake) 0.002 after 4 epochs);
        - L_prior (with the objective's beta and free bits) reaches the encoder only.
        Three backward passes (one per network) would give the same gradients at about twice the cost.
        """
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        n, gamma = x.shape[0], float(self.config.gamma)
        posterior = self.encode(x)
        z = posterior.rsample(generator)  # (B, D)
        z_prior = randn_like(z, generator)  # (B, D)
        # one decoder call: x~ for the likelihood, x~ again for the GAN (no path to the encoder), x_p
        decoded = self.decode(torch.cat([scale_gradient(z, 1.0 / gamma), z.detach(), z_prior])).mean  # (3B, C, H, W)
        x_rec, fakes = decoded[:n], decoded[n:]
        with torch.no_grad():
            real_features = self.discriminator.features(x)  # (B, F), a target: no gradient anywhere
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        rec_features = functional_call(self.discriminator, frozen, (x_rec,), {"features_only": True})  # (B, F)
        llike = 0.5 * ((real_features - rec_features).pow(2) + LOG_2PI).sum(1)  # (B,)
        minimax = self.config.generator_loss == "minimax"
        seen_fakes = scale_gradient(fakes, -1.0) if minimax else fakes.detach()
        logits, _ = self.discriminator(torch.cat([x, seen_fakes]))  # (3B,)
        d_real, d_rec, d_prior = logits.split(n)
        # L_GAN = -log D(x) - log(1 - D(x~)) - log(1 - D(x_p)), D = sigmoid(logit)
        gan = F.softplus(-d_real) + F.softplus(d_rec) + F.softplus(d_prior)  # (B,)
        if minimax:
            generator = torch.zeros_like(gan)
        else:  # L_G = -log D(x~) - log D(x_p), to the decoder only
            fake_logits, _ = functional_call(self.discriminator, frozen, (fakes,))  # (2B,)
            generator = F.softplus(-fake_logits).view(2, n).sum(0)  # (B,)
        kl_dims = posterior_kl(posterior, z)  # (B, D)
        encoder_and_likelihood = objective.per_sample_loss({"nll": gamma * llike, "kl_dims": kl_dims})
        without_generator = (encoder_and_likelihood + gan).mean()
        return {"total": without_generator + generator.mean(), "total_without_generator": without_generator,
                "kl_dims": kl_dims.detach(), "llike": llike, "gan": gan, "real_logits": d_real,
                "fake_logits": torch.stack([d_rec, d_prior], 1)}

    def players_to_train(self, real_logits: Tensor, fake_logits: Tensor) -> tuple[bool, bool]:
        """(discriminator, decoder's GAN term): which to train this step, from the discriminator's cross-entropy
        on reals (B,) and on fakes (B, 2) by the `equilibrium` rule; both when it is off."""
        eq, margin = float(self.config.equilibrium), float(self.config.margin)
        if eq <= 0:
            return True, True
        # [-log D(x), -log(1 - D(fake)) over x~ and x_p], batch means
        losses = torch.stack([F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()])
        if dist.is_available() and dist.is_initialized():  # every process decides alike, on the global batch
            dist.all_reduce(losses)
            losses = losses / dist.get_world_size()
        on_reals, on_fakes = losses.tolist()
        train_dis = not (on_reals < eq - margin or on_fakes < eq - margin)  # the discriminator is winning
        train_dec = not (on_reals > eq + margin or on_fakes > eq + margin)  # ... or losing
        return (True, True) if not (train_dis or train_dec) else (train_dis, train_dec)

    def forward(self, x: Tensor, generator: torch.Generator | None = None, condition: Condition = None,
                objective: StepObjective | None = None) -> VAEOutput | dict[str, Tensor]:
        """The VAE's forward (posterior, draw, decoded); given `objective`, the training step's losses instead
        (`step_losses`: the one pass all three networks' gradients come from)."""
        if objective is None:
            return super().forward(x, generator, condition)
        return self.step_losses(x, objective, generator)

    def training_step(self, batch: Any, objective: StepObjective, optimizers: dict[str, torch.optim.Optimizer],
                      generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One step of all three networks (see `step_losses` for how each gets its own gradient). The losses come
        from `self(x, objective=...)` so that, under torchrun, the whole forward runs through the
        DistributedDataParallel wrapper (explorer.distributed.ddp_forward) and the gradients are averaged."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        losses = self(x, generator, objective=objective)
        train_dis, train_dec = self.players_to_train(losses["real_logits"].detach(), losses["fake_logits"].detach())
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        (losses["total"] if train_dec else losses["total_without_generator"]).backward()
        for name, params in (("encoder", self.encoder_parameters()), ("decoder", self.decoder_parameters()),
                             ("discriminator", self.discriminator_parameters())):
            if name == "discriminator" and not train_dis:
                continue
            objective.clip(params)
            optimizers[name].step()
        kl = losses["kl_dims"].sum(1)
        llike, gan = losses["llike"].detach(), losses["gan"].detach()
        return {
            "loss": (llike + kl).mean(),  # the negative feature-space ELBO of this batch (one draw)
            "nll": llike.mean(), "kl": kl.mean(), "gan": gan.mean(),
            "d_real": torch.sigmoid(losses["real_logits"].detach()).mean(),  # D's mean belief that reals are real
            "d_fake": torch.sigmoid(losses["fake_logits"].detach()).mean(),  # ... and that fakes are
            # shares of steps (averaged over an epoch) in which each player trained: 1 without the equilibrium rule
            "d_trained": torch.tensor(float(train_dis)), "g_trained": torch.tensor(float(train_dec)),
        }

    # -- the feature-space ELBO -------------------------------------------------------------------------
    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """`nll` = L_llike (B,) and `kl_dims` (B, D): the negative feature-space ELBO's terms (the GAN terms
        train in `training_step`; they bound nothing)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.elbo_terms(x, generator)

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None,
                   condition: Condition = None) -> dict[str, Tensor]:
        """One-draw ELBO terms of log p(Dis_l(x)): `nll` (B,) in feature space and `kl_dims` (B, D)."""
        posterior = self.encode(x)
        z = posterior.rsample(generator)
        nll = self.feature_nll(self.discriminator.features(x), self.decode(z).mean)
        return {"nll": nll, "kl_dims": posterior_kl(posterior, z)}

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None,
                         condition: Condition = None) -> Tensor:
        """log p(Dis_l(x) | z_i) + log p(z_i) - log q(z_i | x) for k draws per image (B, k): feature space."""
        posterior = self.encode(x)
        batch = x.shape[0]
        draws = posterior.expand_draws(k)
        z = draws.rsample(generator)  # (B, k, D)
        log_q = draws.log_prob(z).flatten(2).sum(2)
        log_prior = standard_normal_log_prob(z).flatten(2).sum(2)
        real = self.discriminator.features(x)  # (B, F)
        real = real.unsqueeze(1).expand(batch, k, real.shape[1]).flatten(0, 1)  # (B * k, F)
        log_px = -self.feature_nll(real, self.decode(z.flatten(0, 1)).mean).view(batch, k)
        return log_px + log_prior - log_q
