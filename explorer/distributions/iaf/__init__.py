"""Inverse autoregressive flow posteriors (Kingma et al. 2016) for the vector-code families (conv, mlp).

A family opts in with three config fields (`iaf_steps`, `iaf_hidden`, `context_dim`), a `to_stats` layer of
width `stats_width(config)`, `build_flow(config)` at the end of its constructor and `posterior_from_stats` in its
`encode`. With iaf_steps = 0 nothing changes: no flow is built, the layer keeps its width, and `encode` returns the
same DiagonalGaussian as before (so checkpoints whose config.json predates these fields load unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from explorer.distributions import DiagonalGaussian
from explorer.distributions.iaf.flow import IAF, IAFStep
from explorer.distributions.iaf.made import MADE, MaskedLinear
from explorer.distributions.iaf.posterior import IAFPosterior

__all__ = ["IAF", "IAFStep", "MADE", "MaskedLinear", "IAFPosterior", "IAFFields", "IAFMixin", "IAF_HELP", "check_iaf_fields",
           "stats_width"]

FLOW_CODE_NAME = "flow at ε = 0"

IAF_HELP = {
    "iaf_steps": "IAF posterior steps k (Kingma et al. 2016); 0: the plain diagonal Gaussian",
    "iaf_hidden": "width of each IAF step's two MADE hidden layers (iaf_steps > 0)",
    "context_dim": "size of the context vector h the encoder emits for the IAF steps (iaf_steps > 0)",
}


@dataclass
class IAFFields:
    """The three config fields a vector-code family takes to grow an IAF posterior (conv and mlp mix them in)."""

    iaf_steps: int = field(default=0, metadata={"help": IAF_HELP["iaf_steps"]})
    iaf_hidden: int = field(default=128, metadata={"help": IAF_HELP["iaf_hidden"]})
    context_dim: int = field(default=32, metadata={"help": IAF_HELP["context_dim"]})


def check_iaf_fields(config) -> None:
    """Refuse negative or empty IAF sizes."""
    if config.iaf_steps < 0:
        raise ValueError(f"iaf_steps must be 0 or more, got {config.iaf_steps}")
    if config.iaf_steps > 0 and (config.iaf_hidden < 1 or config.context_dim < 0):
        raise ValueError(f"iaf_hidden must be positive and context_dim 0 or more, got {config.iaf_hidden}, {config.context_dim}")


def stats_width(config) -> int:
    """Width of the encoder's last layer: mean and log-variance, plus the context when there is a flow."""
    return 2 * config.latent_dim + (config.context_dim if config.iaf_steps > 0 else 0)


class IAFMixin:
    """Put before VAE in a family's bases: the flow, the posterior from the encoder's output, and `code_name`."""

    flow: IAF | None

    def build_flow(self, config) -> None:
        """Create the flow last, so a model without one draws the same initial weights as before."""
        self.flow = IAF(config.latent_dim, config.iaf_steps, config.iaf_hidden, config.context_dim) if config.iaf_steps > 0 else None

    def posterior_from_stats(self, stats: Tensor) -> DiagonalGaussian | IAFPosterior:
        """The encoder's last activations (B, stats_width) -> q(z | x)."""
        if self.flow is None:
            mean, logvar = stats.chunk(2, dim=1)
            return DiagonalGaussian(mean, logvar)
        d = self.config.latent_dim
        mean, logvar, context = stats.split([d, d, stats.shape[1] - 2 * d], dim=1)
        return IAFPosterior(mean, logvar, context, self.flow)

    @property
    def code_name(self) -> str:
        """What `encode_code` shows: the flow of the Gaussian's mean when there is a flow."""
        return FLOW_CODE_NAME if self.config.iaf_steps > 0 else "posterior mean"

    @property
    def posterior_name(self) -> str:
        """q(z | x) in words: the Gaussian alone, or pushed through the flow's k steps."""
        c = self.config
        if c.iaf_steps == 0:
            return "diagonal Gaussian (IAF steps k = 0)"
        context = f"context vector of {c.context_dim} from the encoder" if c.context_dim else "no context vector"
        return (f"diagonal Gaussian pushed through k = {c.iaf_steps} inverse autoregressive flow "
                f"step{'s' if c.iaf_steps > 1 else ''} (IAF; MADE width {c.iaf_hidden}, {context})")
