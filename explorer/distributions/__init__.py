"""Distributions: the diagonal-Gaussian posterior and pixel likelihoods (gaussian.py), noise keyed by data item
(noise.py), and the inverse autoregressive flow posterior (iaf/)."""

from explorer.distributions.gaussian import (
    LOG_2PI,
    LOGVAR_MAX,
    LOGVAR_MIN,
    BernoulliLikelihood,
    DiagonalGaussian,
    GaussianLikelihood,
    Likelihood,
    standard_normal_log_prob,
)
from explorer.distributions.noise import ItemNoise, Noise, rand_like, randn_like

__all__ = ["LOG_2PI", "LOGVAR_MAX", "LOGVAR_MIN", "BernoulliLikelihood", "DiagonalGaussian", "GaussianLikelihood",
           "ItemNoise", "Likelihood", "Noise", "rand_like", "randn_like", "standard_normal_log_prob"]
