"""The Pu et al. (2016) family: image, label and caption VAE with stochastic pooling and a DGDN decoder.

config (PuConfig), model (PuVAE, registered as "pu"), pooling (stochastic pooling and unpooling, with the
opt-in torch.compile'd relaxed pooling), blockconv (a convolution that writes pooling blocks), caption (the
caption RNN). Importing this package registers the family.
"""

from explorer.models.pu.config import PuConfig
from explorer.models.pu.model import Encoding, PuVAE

__all__ = ["Encoding", "PuConfig", "PuVAE"]
