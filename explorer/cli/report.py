"""What the command lines print after scoring a model: the headline scores, a word on negative log-likelihoods,
and the collapse warning (from metrics["collapse"], `explorer.analysis.collapse`)."""

from __future__ import annotations

from typing import Any

from explorer.analysis.collapse import collapse_sentences

HEADLINE = ("iwae_nll_nats", "iwae_bits_per_dim", "elbo_nats", "elbo_bits_per_dim", "kl_nats", "active_units")
NEGATIVE_NLL = ("(a negative NLL is no error: these are continuous data, scored as a density on [0, 1]^D, and a "
                "density can exceed 1 where the model is sure; bits/dim, on the 8-bit scale, stays positive)")


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def score_lines(metrics: dict[str, Any]) -> list[str]:
    """The headline scores as `key=value` on one line, with the active units out of the dimensions, and the note on
    a negative NLL of continuous data where there is one."""
    parts = []
    for key in HEADLINE:
        value = metrics.get(key)
        if value is None:
            continue
        if key == "active_units" and metrics.get("latent_dims"):
            parts.append(f"active_units={value}/{metrics['latent_dims']}")
        else:
            parts.append(f"{key}={_fmt(value)}")
    lines = [", ".join(parts)]
    nll = metrics.get("iwae_nll_nats", metrics.get("recon_nll_nats"))
    if nll is not None and nll < 0 and metrics.get("likelihood_space") != "features":
        lines.append(NEGATIVE_NLL)
    return lines


def collapse_warning(metrics: dict[str, Any]) -> str | None:
    """The posterior-collapse warning (several lines) when metrics' verdict says collapsed; else None."""
    verdict = metrics.get("collapse") or {}
    if not verdict.get("collapsed"):
        return None
    why, figures, remedies = collapse_sentences(verdict)
    return f"warning: posterior collapse: {why}.\n  {figures}.\n  {remedies}."
