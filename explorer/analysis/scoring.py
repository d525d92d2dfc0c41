"""What the Reconstruct page computes for one image, kept apart from the page (and run on the inference thread).

Scores use the same fixed binarisation / dequantisation as the test items (`scoring_inputs`), so percentiles
compare like with like; every draw comes from a generator seeded with the session's seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from explorer.analysis.evaluation import iwae_bound, scoring_inputs
from explorer.models.base import VAE


@dataclass(frozen=True)
class ImageScore:
    """One image's reconstruction, posterior samples, per-pixel maps and ELBO / IWAE terms (nats)."""

    recon: np.ndarray  # (C, H, W) the family's own deterministic reconstruction
    samples: np.ndarray  # (S, C, H, W) likelihood means of posterior draws
    scored: np.ndarray  # (C, H, W) the scoring form of the image (what the ELBO and the NLL map score)
    nll_map: np.ndarray  # (H, W) -log p(x | z) per pixel (summed over channels) at z = the code's latent
    squared_error: np.ndarray  # (H, W) (x - reconstruction)^2 summed over channels
    nll: float  # -log p(x | z) of the ELBO's one posterior draw
    kl: float  # every KL term of the ELBO
    elbo: float
    iwae: float  # nan when k = 0
    code: np.ndarray  # (D,) the code pages show (model.encode_code)
    dims: int  # C * H * W
    scored_on: str  # how the image was put in scoring form, for the page

    @property
    def nll_map_total(self) -> float:
        return float(self.nll_map.sum())


def pixel_nll(model: VAE, xs: Tensor) -> Tensor:
    """-log p(x | z) per pixel (B, H, W), summed over channels, for images xs (B, C, H, W) in scoring form, at
    z = the latent of the code pages show (`latent_from_code(encode_code(xs))`: the posterior mean by default).

    Its sum over pixels is the reconstruction term of that one decode, -likelihood.log_prob(xs).sum().
    """
    z = model.latent_from_code(model.encode_code(xs))
    return -model.decode(z).log_prob(xs).sum(1)


def scoring_description(likelihood: str) -> str:
    return "its fixed binarisation" if likelihood == "bernoulli" else "its fixed dequantisation"


def score_image(model: VAE, image: np.ndarray, iwae_k: int, seed: int, n_samples: int,
                iwae_chunk: int = 500) -> ImageScore:
    """Everything the Reconstruct page shows about one (C, H, W) image in [0, 1]; the IWAE samples are decoded
    iwae_chunk at a time (explorer.runtime.budget.plan_iwae sizes it to memory)."""
    x = torch.from_numpy(np.asarray(image, dtype=np.float32)).unsqueeze(0).to(model.device)
    gen = torch.Generator(device=model.device).manual_seed(int(seed))
    with torch.inference_mode():
        recon = model.reconstruct(x)
        squared = (x - recon).pow(2).sum(1)[0]
        posterior = model.encode(x)
        draws = posterior.expand_draws(n_samples).rsample(gen)  # (1, S, *latent)
        samples = model.decode(draws.flatten(0, 1)).mean
        xs = scoring_inputs(x, model.config.likelihood)
        nll_map = pixel_nll(model, xs)[0]
        terms = model.elbo_terms(xs, gen)  # the family's own ELBO terms, as the test items were scored
        nll = float(terms.pop("nll").sum())
        kl = float(terms.pop("kl_dims").sum()) + sum(float(v.sum()) for v in terms.values())
        iwae = float(iwae_bound(model, xs, iwae_k, gen, chunk=max(1, int(iwae_chunk)))[0]) if iwae_k > 0 else math.nan
        code = model.encode_code(x)[0].flatten()
    return ImageScore(
        recon=recon[0].float().cpu().numpy(), samples=samples.float().cpu().numpy(), scored=xs[0].float().cpu().numpy(),
        nll_map=nll_map.double().cpu().numpy(), squared_error=squared.float().cpu().numpy(), nll=nll, kl=kl,
        elbo=-(nll + kl), iwae=iwae, code=code.float().cpu().numpy(), dims=int(np.prod(image.shape)),
        scored_on=scoring_description(model.config.likelihood),
    )
