"""The convolutional family: config (ConvConfig, conv_sizes), model (ConvVAE, registered as "conv")."""

from explorer.models.conv.config import ConvConfig, conv_sizes
from explorer.models.conv.model import ConvVAE

__all__ = ["ConvConfig", "ConvVAE", "conv_sizes"]
