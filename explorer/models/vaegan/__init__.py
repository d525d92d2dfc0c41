"""VAE/GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric"):
a conv VAE whose reconstruction is scored in the feature space of a GAN discriminator.
config (VAEGANConfig), discriminator (Discriminator), model (VAEGAN, registered as "vaegan"). Importing this
package registers the family."""

from explorer.models.vaegan.config import VAEGANConfig
from explorer.models.vaegan.discriminator import Discriminator
from explorer.models.vaegan.model import VAEGAN

__all__ = ["Discriminator", "VAEGAN", "VAEGANConfig"]
