"""The MLP family: config (MLPConfig), model (MLPVAE, registered as "mlp")."""

from explorer.models.mlp.config import MLPConfig
from explorer.models.mlp.model import MLPVAE

__all__ = ["MLPConfig", "MLPVAE"]
