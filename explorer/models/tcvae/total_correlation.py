"""Total correlation of the aggregate posterior, estimated from a minibatch (Chen et al. 2018, beta-TCVAE).

q(z) = (1/N) sum_n q(z | x_n) over a data set of N items; TC = E_q(z)[log q(z) - sum_d log q(z_d)]. From a
minibatch of M items with one draw z_i ~ q(z | x_i) each, log q(z_i) is estimated from the M posteriors:

- "mws", minibatch-weighted sampling: log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N M), the same for each
  marginal q(z_id). Its log-of-a-sum is biased low: when the posteriors barely overlap, by up to log M on
  log q(z) while the one-dimensional marginals overlap and are nearly unbiased, so TC is underestimated.
- "mss", minibatch-stratified sampling: item i's own posterior weighs 1/N, the other M - 1 weigh
  (N - 1) / (N (M - 1)) each: an unbiased estimate of q(z_i) inside the log (less biased than MWS).

`exact_total_correlation` is the reference for a small data set: log q(z) by log-sum-exp over ALL N items.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

ESTIMATORS = ("mws", "mss")
LOG_2PI = math.log(2 * math.pi)


def pairwise_log_density(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log q(z_i,d | x_j) for every pair: z (B, D) against posteriors mean, logvar (M, D) -> (B, M, D)."""
    z, mean, logvar = z[:, None, :], mean[None, :, :], logvar[None, :, :]
    return -0.5 * (LOG_2PI + logvar + (z - mean) ** 2 * torch.exp(-logvar))


def _log_weights(batch: int, dataset_size: int, estimator: str, device: torch.device, dtype: torch.dtype) -> Tensor:
    """log of the weight of posterior j in the estimate of q(z_i): (B, B)."""
    n, m = float(dataset_size), batch
    if estimator == "mws":
        return torch.full((m, m), -math.log(n * m), device=device, dtype=dtype)
    if m < 2:
        raise ValueError("the stratified (mss) estimate needs minibatches of at least 2 items")
    w = torch.full((m, m), (n - 1) / (n * (m - 1)), device=device, dtype=dtype)
    w.fill_diagonal_(1.0 / n)
    return w.log()


def log_aggregate_densities(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int,
                            estimator: str = "mws") -> tuple[Tensor, Tensor]:
    """Estimates of log q(z_i) (B,) and of sum_d log q(z_id) (B,) from a minibatch: z (B, D) drawn from the
    posteriors mean, logvar (B, D) of the same B items, in order (z_i from item i)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if dataset_size < len(z):
        raise ValueError(f"dataset_size ({dataset_size}) must be at least the minibatch size ({len(z)})")
    log_qzx = pairwise_log_density(z, mean, logvar)  # (B, B, D)
    log_w = _log_weights(len(z), dataset_size, estimator, z.device, z.dtype)  # (B, B)
    log_qz = torch.logsumexp(log_w + log_qzx.sum(2), dim=1)  # (B,)
    log_marginals = torch.logsumexp(log_w[:, :, None] + log_qzx, dim=1).sum(1)  # (B,)
    return log_qz, log_marginals


def total_correlation(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int, estimator: str = "mws") -> Tensor:
    """Per-item TC estimate (B,) (its mean over the minibatch estimates TC); see the module docstring."""
    log_qz, log_marginals = log_aggregate_densities(z, mean, logvar, dataset_size, estimator)
    return log_qz - log_marginals


def exact_total_correlation(mean: Tensor, logvar: Tensor, draws: int = 100_000,
                            generator: torch.Generator | None = None) -> float:
    """TC of the aggregate posterior of N items (mean, logvar (N, D)): z drawn from q(z) (an item, then its
    posterior), log q(z) and each log q(z_d) by log-sum-exp over all N items; the mean over `draws` draws."""
    n = len(mean)
    items = torch.randint(0, n, (draws,), generator=generator, device=mean.device)
    eps = torch.randn((draws, mean.shape[1]), generator=generator, device=mean.device, dtype=mean.dtype)
    z = mean[items] + torch.exp(0.5 * logvar[items]) * eps
    total = 0.0
    for chunk in z.split(8192):
        log_qzx = pairwise_log_density(chunk, mean, logvar)  # (S, N, D)
        log_qz = torch.logsumexp(log_qzx.sum(2), 1) - math.log(n)
        log_marg = (torch.logsumexp(log_qzx, 1) - math.log(n)).sum(1)
        total += float((log_qz - log_marg).sum())
    return total / draws
