"""The Bayesian SVM label head of Pu et al. (2016): a hinge pseudo-likelihood with Polson and Scott's (2011)
data augmentation, trained inside the VAE by stochastic gradients with an EM step on the augmentation variables.

Multiclass (`bsvm_multiclass`; the notes on the paper do not settle how it handles K > 2 classes, so this is a
choice recorded in config.json and in the card). The classifier network gives K scores f(s) (B, K).
- "one-vs-rest" (default): K binary SVMs; class c's label is y_c = +1 for items of class c and -1 otherwise, and
  u_c = y_c f_c(s), one hinge and one lambda per class.
- "crammer-singer" (Crammer and Singer 2001): one hinge per item on u = f_y(s) - max_{c != y} f_c(s), the margin
  of the true class over the best other one, with one lambda per item; the same augmentation applies with y = +1.

Pseudo-likelihood of one binary label (Polson and Scott 2011):

    phi(y_c | s) = exp(-2 max(1 - u_c, 0)),   so   -log phi = 2 hinge(u_c).

The augmentation writes it as a scale mixture of Gaussians over lambda_c > 0:

    phi(y_c | s) = int_0^inf (2 pi lambda)^(-1/2) exp(-(1 + lambda - u_c)^2 / (2 lambda)) d lambda.

Given u, the conditional of lambda is a generalised inverse Gaussian GIG(1/2, 1, (1 - u)^2); equivalently
1 / lambda ~ InverseGaussian(mean 1 / |1 - u|, shape 1), so E[1 / lambda | u] = 1 / |1 - u| in closed form
(`expected_inverse_lambda`). Up to the constant (1/2) log(2 pi lambda), the augmented negative log-likelihood is a
quadratic in the margin weighted by 1 / lambda:

    (1 + lambda - u)^2 / (2 lambda) = (1 - u)^2 / (2 lambda) + (1 - u) + lambda / 2      (`augmented_hinge`).

Training (EM per batch): the E-step sets each lambda_c to its fixed point 1 / E[1 / lambda | u] = |1 - u_c| from
the current margins, with no gradient (`lambda_update`); the M-step is this batch's gradient step on the
weighted quadratic above. By AM-GM, (1 - u)^2 / (2 lambda) + lambda / 2 >= |1 - u| for every lambda > 0 with
equality at lambda = |1 - u|, so the quadratic is an upper bound of 2 hinge(u) that touches it at the E-step's
margins, with the same value and gradient there (d/du: -2 below the margin, 0 above it). One SGD step on the
surrogate is therefore one SGD step on the hinge pseudo-likelihood: the augmentation is exact, and what it buys
in the paper's setting is closed-form conditionals (Gibbs or EM over the classifier weights), not a different
objective. lambda is floored at `LAMBDA_FLOOR` (an item exactly on the margin has E[1 / lambda] infinite); the
bound still holds there and exceeds the hinge by at most LAMBDA_FLOOR / 2 per class.

Shapes: margins, targets, lambdas (..., K) (or (..., 1) for Crammer-Singer); per-item terms (...,) summed over
the last axis.

The classifier weights are point estimates, like every other weight of the model, with no prior of their own
(the trainer's --weight-decay, 0 by default, would play the part of the Bayesian SVM's Gaussian prior). `label_scores` turns margins into what `label_probabilities` returns: a softmax over
the K margins, a score that ranks the classes as the SVM does (argmax of the margins), not a calibrated
probability.
"""

from __future__ import annotations

import torch
from torch import Tensor

LAMBDA_FLOOR = 1e-3  # smallest lambda: an item exactly on the margin would give E[1 / lambda] = infinity
MULTICLASS = ("one-vs-rest", "crammer-singer")


def one_vs_rest_targets(labels: Tensor, n_classes: int) -> Tensor:
    """Labels (...,) in 0..K-1 -> binary targets (..., K): +1 for the item's class, -1 for the others."""
    return 2.0 * torch.nn.functional.one_hot(labels, n_classes).float() - 1.0


def expected_inverse_lambda(margins: Tensor, targets: Tensor) -> Tensor:
    """E[1 / lambda | u] = 1 / |1 - u| (..., K), the mean of the inverse-Gaussian conditional of 1 / lambda."""
    return 1.0 / (1.0 - targets * margins).abs()


def lambda_update(margins: Tensor, targets: Tensor, floor: float = LAMBDA_FLOOR) -> Tensor:
    """The E-step (..., K): lambda = 1 / E[1 / lambda | u] = |1 - u|, floored, detached from the graph."""
    return (1.0 - targets * margins).detach().abs().clamp_min(floor)


def hinge(margins: Tensor, targets: Tensor) -> Tensor:
    """-log of the pseudo-likelihood, 2 * sum_c max(1 - u_c, 0) (...,): the objective the surrogate stands for."""
    return 2.0 * (1.0 - targets * margins).clamp_min(0).sum(-1)


def augmented_hinge(margins: Tensor, targets: Tensor, lambdas: Tensor) -> Tensor:
    """The weighted quadratic surrogate (...,): sum_c (1 - u_c)^2 / (2 lambda_c) + (1 - u_c) + lambda_c / 2,
    i.e. -log p(y_c, lambda_c | s) of the augmented model without its (1/2) log(2 pi lambda_c)."""
    gap = 1.0 - targets * margins
    return (gap.square() / (2.0 * lambdas) + gap + lambdas / 2.0).sum(-1)


def crammer_singer_margin(scores: Tensor, labels: Tensor) -> Tensor:
    """u = f_y - max_{c != y} f_c (..., 1) for scores (..., K) and labels (...,) in 0..K-1."""
    true = scores.gather(-1, labels.unsqueeze(-1))
    others = scores.masked_fill(torch.nn.functional.one_hot(labels, scores.shape[-1]).bool(), float("-inf"))
    return true - others.amax(-1, keepdim=True)


def bsvm_label_loss(scores: Tensor, labels: Tensor, multiclass: str = "one-vs-rest") -> Tensor:
    """Per-item label term (B,) for scores (B, K) and labels (B,) in 0..K-1: one EM step (lambda at its fixed
    point for the current margins, then the weighted quadratic), equal in value and gradient to `hinge` of the
    one-vs-rest margins or of the Crammer-Singer margin."""
    if multiclass == "crammer-singer":
        margins = crammer_singer_margin(scores, labels)  # (B, 1), the true class's binary label is +1
        targets = torch.ones_like(margins)
    elif multiclass == "one-vs-rest":
        margins, targets = scores, one_vs_rest_targets(labels, scores.shape[-1])
    else:
        raise ValueError(f"multiclass must be one of {MULTICLASS}, got {multiclass!r}")
    return augmented_hinge(margins, targets, lambda_update(margins, targets))


def label_scores(margins: Tensor) -> Tensor:
    """A softmax over the K margins (..., K): ranks the classes as the SVM does; not a calibrated probability."""
    return torch.softmax(margins, dim=-1)


__all__ = ["LAMBDA_FLOOR", "MULTICLASS", "augmented_hinge", "bsvm_label_loss", "crammer_singer_margin",
           "expected_inverse_lambda", "hinge", "label_scores", "lambda_update", "one_vs_rest_targets"]
