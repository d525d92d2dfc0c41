"""The model zoo. Importing this package registers every built-in family."""

from explorer.models import conv, mlp  # noqa: F401  (registration side effect)
from explorer.models import pu  # noqa: F401  (the package registers the Pu et al. 2016 family)
from explorer.models import cvae  # noqa: F401  (the package registers the conditional VAE)
from explorer.models import vaegan  # noqa: F401  (the package registers the VAE/GAN)
from explorer.models import tcvae  # noqa: F401  (the package registers the beta-TCVAE)
from explorer.models import factorvae  # noqa: F401  (the package registers FactorVAE)
from explorer.models import autoencoder_kl  # noqa: F401  (the package registers the diffusers AutoencoderKL)
from explorer.models import fsq, vqvae  # noqa: F401  (the packages register the discrete families)
from explorer.models.base import VAE, VAEConfig, VAEOutput, interpolate_codes
from explorer.models.registry import MODEL_REGISTRY, available_families, build_model, get_model_class, register_model

__all__ = [
    "MODEL_REGISTRY",
    "VAE",
    "VAEConfig",
    "VAEOutput",
    "available_families",
    "build_model",
    "get_model_class",
    "interpolate_codes",
    "register_model",
]
