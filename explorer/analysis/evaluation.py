"""Test-split evaluation: ELBO terms, importance-weighted log-likelihood, active units, KL per dimension.

Protocol: Bernoulli models are scored in nats on one fixed, seeded binarisation of the test split; Gaussian
models on one fixed, seeded dequantisation, reported in bits per dimension on the 8-bit scale.
Every per-item score is kept, so the app can say where a new image falls among the test items.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from explorer.analysis.collapse import ACTIVE_UNIT_THRESHOLD, collapse_verdict
from explorer.data.base import Dataset, stack_images
from explorer.data.transforms import dequantize, fixed_binarization
from explorer.losses import bits_per_dim, log_mean_exp
from explorer.models.base import VAE

EVAL_SEED = 1234



def scoring_inputs(x: Tensor, likelihood: str, seed: int = EVAL_SEED) -> Tensor:
    """The fixed version of images that scores are computed on: seeded binarisation or dequantisation."""
    if likelihood == "bernoulli":
        return fixed_binarization(x, seed)
    gen = torch.Generator().manual_seed(seed)
    return dequantize(x.cpu(), gen).to(x.device)


@torch.no_grad()
def iwae_bound(model: VAE, x: Tensor, k: int, generator: torch.Generator | None = None, chunk: int = 500,
               condition: Tensor | int | None = None) -> Tensor:
    """Importance-weighted bound log p(x) >= log mean_i w_i with k draws (Burda et al.), per image (B,)
    (log p(x | y) for a conditional model, given condition= y; pass it only to such a model).

    The k draws are taken in chunks so that memory stays bounded for k = 1000.
    """
    given = {} if condition is None else {"condition": condition}
    parts = [model.iwae_log_weights(x, min(chunk, k - start), generator, **given) for start in range(0, k, chunk)]
    return log_mean_exp(torch.cat(parts, dim=1), dim=1)


@dataclass
class ItemScores:
    """Per-item scores (N,) in nats, and the posterior means (N, D) and KL per dimension (N, D)."""

    nll: Tensor  # -E_q log p(x|z), one draw
    kl: Tensor  # every KL term of the ELBO: the code's plus the family's further ones
    elbo: Tensor
    iwae: Tensor  # log p(x) estimate
    means: Tensor
    kl_dims: Tensor
    extra_kl: dict[str, Tensor] = field(default_factory=dict)  # further KL terms by name (N,), e.g. location_kl


@torch.no_grad()
def score_items(
    model: VAE, images: Tensor, iwae_k: int = 1000, batch_size: int = 50, seed: int = EVAL_SEED,
    device: torch.device | str | None = None, on_batch: Callable[[int], None] | None = None,
    labels: Tensor | None = None,
) -> ItemScores:
    """Score (N, C, H, W) images in [0, 1] (already in scoring form) with every term, batch by batch.

    A conditional model (`capabilities().condition_classes > 0`) is scored given each item's label (N,):
    its ELBO and IWAE bound log p(x | y). It refuses items without labels; other models ignore `labels`.

    The ELBO terms come from the family's own `elbo_terms`, so a model with latent variables beyond the
    code (the pooling locations of `pu`) is scored with all of them. `means` are the codes pages show
    (`encode_code`). on_batch(items) is called after each batch, e.g. to advance a progress bar.
    """
    model.eval()
    device = torch.device(device) if device is not None else model.device
    gen = torch.Generator(device=device).manual_seed(seed)
    conditional = model.capabilities().condition_classes > 0
    if conditional:
        check_condition_labels(model, labels, len(images))
    out: dict[str, list[Tensor]] = {k: [] for k in ("nll", "iwae", "means", "kl_dims")}
    extras: dict[str, list[Tensor]] = {}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        given = {"condition": labels[start : start + batch_size].to(device)} if conditional else {}
        terms = model.elbo_terms(x, gen, **given)
        nll, kl_dims = terms.pop("nll"), terms.pop("kl_dims")
        out["nll"].append(nll.cpu())
        out["kl_dims"].append(kl_dims.cpu())
        for name, value in terms.items():
            extras.setdefault(name, []).append(value.cpu())
        out["means"].append(model.encode_code(x, **given).flatten(1).cpu())
        out["iwae"].append(iwae_bound(model, x, iwae_k, gen, **given).cpu() if iwae_k > 0 else torch.full_like(nll, math.nan).cpu())
        if on_batch is not None:
            on_batch(len(x))
    cat = {k: torch.cat(v) for k, v in out.items()}
    extra_kl = {k: torch.cat(v) for k, v in extras.items()}
    kl = cat["kl_dims"].sum(1) + sum(extra_kl.values(), torch.zeros(len(cat["nll"])))
    return ItemScores(cat["nll"], kl, -(cat["nll"] + kl), cat["iwae"], cat["means"], cat["kl_dims"], extra_kl)


def check_condition_labels(model: VAE, labels: Tensor | None, n: int) -> None:
    """Refuse to score n items with a conditional model unless every one has a label within its classes."""
    k = model.capabilities().condition_classes
    if labels is None or len(labels) != n:
        raise ValueError(f"the {model.family!r} model is conditional on {k} classes: scoring needs the label of "
                         "every item, and these items come without labels")
    missing = int(((labels < 0) | (labels >= k)).sum())
    if missing:
        raise ValueError(f"the {model.family!r} model is conditional on {k} classes: {missing} of {n} items are "
                         "unlabelled (or outside its classes), so their ELBO given the label cannot be scored; "
                         "evaluate it on a labelled data set")


def active_units(means: Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> tuple[int, Tensor]:
    """Burda et al.: unit u is active when Cov_x(E_q[z_u]) > threshold. means: (N, D) -> (count, (D,) variances)."""
    variances = means.double().var(0, unbiased=True) if len(means) > 1 else torch.zeros(means.shape[1])
    return int((variances > threshold).sum()), variances.float()


def protocol_text(likelihood: str) -> str:
    if likelihood == "bernoulli":
        return (
            "Bernoulli likelihood: trained on dynamically binarised images; scored in nats on one fixed "
            f"binarisation of the test split (seed {EVAL_SEED})."
        )
    return (
        "Gaussian likelihood on uniformly dequantised 8-bit data: scored in bits per dimension on one fixed "
        f"dequantisation of the test split (seed {EVAL_SEED}); nats are of the density on [0, 1]."
    )


def feature_protocol_text(likelihood: str) -> str:
    """The protocol of a model without a pixel likelihood (VAE/GAN): what its scores are of."""
    form = "binarisation" if likelihood == "bernoulli" else "dequantisation"
    return (f"Scored on one fixed {form} of the test split (seed {EVAL_SEED}). This model has no pixel likelihood: "
            "its ELBO (and any IWAE) bounds the density of its discriminator's features of the image, in nats, and "
            "is not comparable with pixel-likelihood models.")


def evaluate(
    model: VAE, test: Dataset, likelihood: str, iwae_k: int = 1000, batch_size: int = 50, limit: int | None = None,
    on_batch: Callable[[int], None] | None = None, pruning_objective: bool = False,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Evaluate on a test split (its first `limit` items). Returns (metrics for metrics.json, per-item arrays
    for analysis.safetensors). on_batch(items) is called after each scored batch. pruning_objective: the model was
    trained to switch dimensions off (a beta > 1 run; see collapse_verdict), besides what its capabilities declare."""
    images, labels = stack_images(test, limit)
    x = scoring_inputs(images, likelihood)
    if model.capabilities().discrete_code:
        iwae_k = 0  # a one-hot posterior: every importance weight is equal, so the IWAE bound is the ELBO
    s = score_items(model, x, iwae_k=iwae_k, batch_size=batch_size, on_batch=on_batch, labels=labels)
    n_active, variances = active_units(s.means)
    dims = int(math.prod(images.shape[1:]))
    metrics: dict = {
        "protocol": protocol_text(likelihood),
        "test_items": len(images),
        "elbo_nats": float(s.elbo.mean()),
        "recon_nll_nats": float(s.nll.mean()),
        "kl_nats": float(s.kl.mean()),
        **({"kl_code_nats": float(s.kl_dims.sum(1).mean())} if s.extra_kl else {}),
        **{f"{name}_nats": float(v.mean()) for name, v in s.extra_kl.items()},
        "iwae_k": iwae_k,
        "iwae_nll_nats": float(-s.iwae.mean()) if iwae_k > 0 else None,
        "active_units": n_active,
        "active_unit_threshold": ACTIVE_UNIT_THRESHOLD,
        "latent_dims": int(s.means.shape[1]),
        "code_name": model.code_name,
        "posterior": model.posterior_name,
        "likelihood_description": model.likelihood_description(),
        "kl_per_dim": [round(float(v), 5) for v in s.kl_dims.mean(0)],
        "mean_variance_per_dim": [round(float(v), 5) for v in variances],
    }
    kl_dims = [float(v) for v in s.kl_dims.mean(0)]
    metrics["collapse"] = collapse_verdict(float(s.kl_dims.sum(1).mean()), kl_dims, n_active,
                                           spatial=model.capabilities().code_kind != "vector",
                                           pruning_objective=pruning_objective or model.capabilities().pruning_objective)
    if not model.capabilities().pixel_likelihood:
        # the ELBO bounds a density over the model's features, not pixels: no bits per pixel, and say so
        metrics["likelihood_space"] = "features"
        metrics["protocol"] = feature_protocol_text(likelihood)
    elif likelihood == "gaussian":
        metrics["elbo_bits_per_dim"] = float(bits_per_dim(-s.elbo.mean(), dims))
        if iwae_k > 0:
            metrics["iwae_bits_per_dim"] = float(bits_per_dim(-s.iwae.mean(), dims))
    arrays = {
        "test_means": s.means.numpy(),
        "test_labels": labels.numpy(),
        "score_elbo": s.elbo.numpy(),
        "score_nll": s.nll.numpy(),
        "score_kl": s.kl.numpy(),
        **{f"score_{name}": v.numpy() for name, v in s.extra_kl.items()},
        "score_iwae": s.iwae.numpy(),
        "kl_per_dim": s.kl_dims.mean(0).numpy(),
    }
    return metrics, arrays


def percentile_of(value: float, reference: np.ndarray) -> float:
    """Share (0..100) of reference scores at or below value: where a new image falls among the test items."""
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    return float(100.0 * (ref <= value).mean()) if len(ref) else math.nan
