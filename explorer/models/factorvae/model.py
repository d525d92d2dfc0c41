"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising") on the MLP family.

Objective of the VAE, per sample: nll + KL(q(z|x) || p(z)) + tc_weight x (D_0(z) - D_1(z)), the density-ratio
estimate of the total correlation of q(z) from a discriminator D with two logits (0: a code of q(z), 1: a
code of the product of its marginals). D trains in the same step on the batch's codes (detached) against the
same codes with every dimension permuted across the batch independently (samples of prod_d q(z_d)), by
cross-entropy, with its own Adam (betas 0.5, 0.9). D's gradients come only from its own loss: after the VAE's
backward its gradients are cleared, then its loss (on detached codes) is backpropagated. The permutations draw
from the step's torch generator (so the family declares no item-keyed noise).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.models.base import Capabilities, StepObjective, posterior_kl
from explorer.models.factorvae.config import FactorVAEConfig
from explorer.models.mlp import MLPVAE
from explorer.models.registry import register_model

DISC_BETAS = (0.5, 0.9)


def permute_dims(z: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Codes (B, D) with each dimension shuffled across the batch by its own permutation: draws of the
    product of the batch's marginals."""
    b, d = z.shape
    perms = torch.argsort(torch.rand(b, d, generator=generator, device="cpu"), dim=0).to(z.device)  # (B, D)
    return torch.gather(z, 0, perms)


class TCDiscriminator(nn.Module):
    """MLP from codes (B, D) to two logits (B, 2), LeakyReLU(0.2) between hidden layers (Kim & Mnih)."""

    def __init__(self, latent_dim: int, hidden: int, layers: int):
        super().__init__()
        widths = [latent_dim] + [hidden] * layers
        parts: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            parts += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        parts.append(nn.Linear(widths[-1], 2))
        self.net = nn.Sequential(*parts)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


@register_model
class FactorVAE(MLPVAE):
    family = "factorvae"
    config_class = FactorVAEConfig

    def __init__(self, config: FactorVAEConfig):
        super().__init__(config)
        self.discriminator = TCDiscriminator(config.latent_dim, config.disc_hidden, config.disc_layers)

    @classmethod
    def config_capabilities(cls, config: FactorVAEConfig) -> Capabilities:
        # the permutations draw from a torch generator; its TC penalty prunes dimensions it does not need
        return Capabilities(item_keyed_noise=False, pruning_objective=config.tc_weight > 0)

    def vae_parameters(self) -> list[nn.Parameter]:
        disc = {id(p) for p in self.discriminator.parameters()}
        return [p for p in self.parameters() if id(p) not in disc]

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict[str, torch.optim.Optimizer]:
        """The VAE's Adam and the discriminator's (disc_lr, betas 0.5, 0.9)."""
        return {"vae": torch.optim.Adam(self.vae_parameters(), lr=lr, weight_decay=weight_decay),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=self.config.disc_lr,
                                                  betas=DISC_BETAS)}

    def _terms(self, x: Tensor, generator: Any) -> tuple[dict[str, Tensor], Tensor]:
        out = self(x, generator)
        z = out.z.flatten(1)
        logits = self.discriminator(z)  # (B, 2)
        terms = {"nll": -out.likelihood.log_prob(x).flatten(1).sum(1), "kl_dims": posterior_kl(out.posterior, out.z),
                 "tc_penalty": self.config.tc_weight * (logits[:, 0] - logits[:, 1])}
        return terms, z

    def loss_terms(self, batch: Any, generator: Any = None) -> dict[str, Tensor]:
        """`nll` (B,), `kl_dims` (B, D) and `tc_penalty` (B,) = tc_weight x the discriminator's TC estimate."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self._terms(x, generator)[0]

    def discriminator_loss(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Cross-entropy of D on codes (label 0) and their dimension-wise permutation (label 1), codes detached."""
        z = z.detach()
        logits = torch.cat([self.discriminator(z), self.discriminator(permute_dims(z, generator))])
        labels = torch.cat([torch.zeros(len(z)), torch.ones(len(z))]).long().to(z.device)
        return F.cross_entropy(logits, labels)

    def training_step(self, batch: Any, objective: StepObjective, optimizers: dict[str, torch.optim.Optimizer],
                      generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One step of the VAE (its objective) and of the discriminator (its own loss only)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        terms, z = self._terms(x, generator)
        loss = objective.per_sample_loss(terms).mean()
        d_loss = self.discriminator_loss(z, generator)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        objective.backward(loss)
        for p in self.discriminator.parameters():
            p.grad = None  # the VAE's loss reached D through tc_penalty: D learns from its own loss only
        d_loss.backward()
        objective.step(optimizers["vae"], self.vae_parameters())
        objective.clip(self.discriminator.parameters())
        optimizers["discriminator"].step()
        return {"loss": loss.detach(), "nll": terms["nll"].detach().mean(), "kl": terms["kl_dims"].detach().sum(1).mean(),
                "tc_penalty": terms["tc_penalty"].detach().mean(), "d_loss": d_loss.detach()}
