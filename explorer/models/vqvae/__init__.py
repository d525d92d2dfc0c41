"""The VQ-VAE family ("vqvae"): config (VQVAEConfig), model (VQVAE). Importing this package registers it."""

from explorer.models.vqvae.config import VQVAEConfig
from explorer.models.vqvae.model import VQVAE

__all__ = ["VQVAE", "VQVAEConfig"]
