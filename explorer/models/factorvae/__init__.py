"""FactorVAE (Kim & Mnih 2018): the MLP family with a total-correlation penalty from a discriminator over
dimension-wise permuted codes, trained in the family's own training step. config (FactorVAEConfig), model
(FactorVAE, registered as "factorvae"; TCDiscriminator, permute_dims). Importing this package registers it."""

from explorer.models.factorvae.config import FactorVAEConfig
from explorer.models.factorvae.model import FactorVAE, TCDiscriminator, permute_dims

__all__ = ["FactorVAE", "FactorVAEConfig", "TCDiscriminator", "permute_dims"]
