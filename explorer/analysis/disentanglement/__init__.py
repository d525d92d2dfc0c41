"""Disentanglement metrics on posterior means, with disentanglement_lib's published defaults: BetaVAE score,
FactorVAE score, MIG, SAP, DCI, modularity and explicitness.

Each metric takes a representation (an encode function images -> posterior means, `model_encoder(model)`; the
cached means of every item of a factor grid; or a `CodeSource`) and a `FactorData` (`explorer.data.factors`),
an explicit seed, and returns a `MetricResult`: the figure, the settings it was computed with, and its details
(e.g. MIG's mutual-information matrix, latent dimensions x factors).
"""

from explorer.analysis.disentanglement.beta_vae import beta_vae_score
from explorer.analysis.disentanglement.dci import completeness, dci, disentanglement
from explorer.analysis.disentanglement.factor_vae import factor_vae_score
from explorer.analysis.disentanglement.mig import mig, mig_from_codes
from explorer.analysis.disentanglement.modularity import modularity_explicitness, modularity_score
from explorer.analysis.disentanglement.report import METRICS, QUICK, disentanglement_metrics, metrics_json_entries
from explorer.analysis.disentanglement.sap import sap
from explorer.analysis.disentanglement.sampling import CodeSource, Encode, MetricResult, as_source, model_encoder


__all__ = [
    "METRICS", "QUICK", "CodeSource", "disentanglement_metrics", "metrics_json_entries", "Encode", "MetricResult", "as_source", "beta_vae_score", "completeness", "dci",
    "disentanglement", "factor_vae_score", "mig", "mig_from_codes", "model_encoder", "modularity_explicitness",
    "modularity_score", "sap",
]
