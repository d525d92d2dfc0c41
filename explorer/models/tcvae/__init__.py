"""beta-TCVAE (Chen et al. 2018): the MLP family with a total-correlation penalty estimated from minibatches.
config (TCVAEConfig), model (TCVAE, registered as "tcvae"), total_correlation (the MWS / MSS estimators and the
exact reference). Importing this package registers the family."""

from explorer.models.tcvae.config import TCVAEConfig
from explorer.models.tcvae.model import TCVAE

__all__ = ["TCVAE", "TCVAEConfig"]
