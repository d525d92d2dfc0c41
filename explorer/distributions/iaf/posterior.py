"""q(z | x) as a diagonal Gaussian pushed through an IAF: the `Posterior` of conv and mlp with iaf_steps > 0."""

from __future__ import annotations

import torch
from torch import Tensor

from explorer.distributions import LOGVAR_MIN, LOGVAR_MAX, DiagonalGaussian, randn_like, standard_normal_log_prob
from explorer.distributions.iaf.flow import IAF


class IAFPosterior:
    """z_0 = mean0 + exp(logvar / 2) * eps, z_T = IAF(z_0; context).

    log q(z_T) = log N(eps; 0, I) - logvar / 2 - sum_t log sigma_t, kept element-wise (B, D): only its sum over
    dimensions is a density; per dimension it is the share the trainer's free bits and the pages' KL bars use.
    No closed-form KL: the ELBO's KL is estimated at the draw (`kl_at`), as the Gaussian's closed-form KL plus a
    one-draw estimate of what the flow changes. `mean` is the flow of the Gaussian's mean (eps = 0), the
    deterministic code walks and maps show.
    """

    has_analytic_kl = False

    def __init__(self, mean0: Tensor, logvar: Tensor, context: Tensor, flow: IAF):
        self.mean0 = mean0  # (..., D) the Gaussian's mean before the flow
        self.logvar = logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)
        self.context = context  # (..., C)
        self.flow = flow
        self._draw: tuple[Tensor, ...] | None = None  # (z_T, log q(z_T), z_0, log|det|) of the last rsample
        self._mean: Tensor | None = None

    @property
    def mean(self) -> Tensor:
        """flow(mean0, context) at eps = 0, shape (..., D)."""
        if self._mean is None:
            self._mean = self.flow(self.mean0, self.context)[0]
        return self._mean

    def rsample(self, generator: torch.Generator | None = None) -> Tensor:
        """A reparameterised z_T (..., D); its log q is cached for `log_prob`."""
        eps = randn_like(self.mean0, generator)
        z0 = self.mean0 + torch.exp(0.5 * self.logvar) * eps
        z, log_det = self.flow(z0, self.context)
        self._draw = (z, standard_normal_log_prob(eps) - 0.5 * self.logvar - log_det, z0, log_det)
        return z

    def log_prob(self, z: Tensor) -> Tensor:
        """Element-wise log q(z) (..., D): cached for the last draw, else by inverting the flow (D passes per
        step, fine for small codes)."""
        if self._draw is not None and z is self._draw[0]:
            return self._draw[1]
        z0, log_det = self.flow.inverse(z, self.context.expand(*z.shape[:-1], self.context.shape[-1]))
        eps = (z0 - self.mean0) * torch.exp(-0.5 * self.logvar)
        return standard_normal_log_prob(eps) - 0.5 * self.logvar - log_det

    def kl(self) -> Tensor:
        raise NotImplementedError("an IAF posterior has no closed-form KL; estimate it at a draw (kl_at)")

    def kl_at(self, z: Tensor) -> Tensor:
        """Element-wise one-draw estimate (..., D) of KL(q || N(0, I)) at z.

        For the last draw: KL(q_0 || p) in closed form plus log p(z_0) - log p(z_T) - log|det| at the draw, which
        has the same expectation as log q(z_T) - log p(z_T) but much less variance (its noise is only what the
        flow changes: zero when the flow is the identity, where it is the plain model's KL exactly). Any other z:
        log q(z) - log p(z) through the inverse flow.
        """
        if self._draw is not None and z is self._draw[0]:
            z_T, _, z0, log_det = self._draw  # log_det: sum over steps of log sigma, element-wise
            gaussian_kl = DiagonalGaussian(self.mean0, self.logvar).kl()
            return gaussian_kl + standard_normal_log_prob(z0) - standard_normal_log_prob(z_T) - log_det
        return self.log_prob(z) - standard_normal_log_prob(z)

    def expand_draws(self, k: int) -> "IAFPosterior":
        """The same posterior for k draws per item: shapes (B, k, ...)."""
        def rep(t: Tensor) -> Tensor:
            return t.unsqueeze(1).expand(t.shape[0], k, *t.shape[1:])
        return IAFPosterior(rep(self.mean0), rep(self.logvar), rep(self.context), self.flow)
