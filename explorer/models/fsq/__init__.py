"""The FSQ family ("fsq", Mentzer et al. 2023): config (FSQConfig), model (FSQVAE). Importing this package
registers it."""

from explorer.models.fsq.config import FSQConfig
from explorer.models.fsq.model import FSQVAE

__all__ = ["FSQConfig", "FSQVAE"]
