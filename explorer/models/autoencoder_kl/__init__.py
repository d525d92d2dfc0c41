"""This project's own diffusers `AutoencoderKL` as a trainable family ("autoencoder_kl"): config
(AutoencoderKLConfig), model (AutoencoderKLVAE). Its weights export as a diffusers folder (`save_diffusers`) that
loads where Stable Diffusion's VAE folders do. Importing this package registers the family."""

from explorer.models.autoencoder_kl.config import AutoencoderKLConfig
from explorer.models.autoencoder_kl.model import AutoencoderKLVAE

__all__ = ["AutoencoderKLConfig", "AutoencoderKLVAE"]
