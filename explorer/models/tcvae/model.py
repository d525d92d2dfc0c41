"""beta-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs") on the MLP family.

Objective, per sample: nll + KL(q(z|x) || p(z)) + (tc_weight - 1) x TC, where TC is the minibatch estimate of
the aggregate posterior's total correlation (`total_correlation.py`). Since E[KL] = index-code MI + TC +
dimension-wise KL, this is Chen et al.'s decomposition with alpha = gamma = 1 and beta = tc_weight. The trainer's
`--beta` still scales the whole KL (leave it at 1 for the published objective). The TC term couples the items
of a minibatch (each item's q(z) is estimated from the others), so its per-sample values are not independent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from explorer.distributions import Noise
from explorer.models.base import Capabilities, posterior_kl
from explorer.models.mlp import MLPVAE
from explorer.models.registry import register_model
from explorer.models.tcvae.config import TCVAEConfig
from explorer.models.tcvae.total_correlation import total_correlation


@register_model
class TCVAE(MLPVAE):
    family = "tcvae"
    config_class = TCVAEConfig

    @classmethod
    def config_capabilities(cls, config: TCVAEConfig) -> Capabilities:
        """The MLP family's, and a TC weight over 1 prunes the dimensions the code does not need."""
        return replace(super().config_capabilities(config), pruning_objective=config.tc_weight > 1.0)

    def loss_terms(self, batch: Any, generator: Noise = None) -> dict:
        """`nll` (B,), `kl_dims` (B, D) and `tc_penalty` (B,) = (tc_weight - 1) x the per-item TC estimate."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        out = self(x, generator)
        posterior = out.posterior
        tc = total_correlation(out.z.flatten(1), posterior.mean.flatten(1), posterior.logvar.flatten(1),
                               self.config.dataset_size, self.config.tc_estimator)  # (B,)
        return {"nll": -out.likelihood.log_prob(x).flatten(1).sum(1), "kl_dims": posterior_kl(posterior, out.z),
                "tc_penalty": (self.config.tc_weight - 1.0) * tc}
