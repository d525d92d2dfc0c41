"""The conditional VAE (Sohn et al. 2015; the CVAE of Doersch's VAE tutorial, 2016): q(z | x, y) and p(x | z, y) with an
mlp or conv body, the class y one-hot. config (CVAEConfig), model (CVAE, registered as "cvae"). Importing this
package registers the family."""

from explorer.models.cvae.config import CVAEConfig
from explorer.models.cvae.model import CVAE

__all__ = ["CVAE", "CVAEConfig"]
