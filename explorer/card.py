"""The model card (README.md) written beside each checkpoint."""

from __future__ import annotations

import json
from typing import Any


# the rows that bound a feature density, not a pixel one, for a model without a pixel likelihood (VAE/GAN)
FEATURE_SPACE_KEYS = ("iwae_nll_nats", "elbo_nats", "recon_nll_nats")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# how a family reads in a sentence, where "<family> VAE" would repeat itself ("cvae VAE") or say nothing ("pu VAE")
FAMILY_TITLES = {"cvae": "conditional VAE", "vaegan": "GAN-trained VAE", "pu": "Pu et al. (2016) VAE"}


def family_title(family: str) -> str:
    """The family as a sentence names it: "conv VAE", "conditional VAE"."""
    return FAMILY_TITLES.get(family, f"{family} VAE")


def summary_line(family: str, dataset: str, metrics: dict[str, Any]) -> str:
    """One line for pickers: family, data, and the headline score."""
    if metrics.get("likelihood_space") == "features":  # no pixel likelihood (VAE/GAN): a feature-space bound
        score = f"feature-space ELBO {metrics.get('elbo_nats', float('nan')):.2f} nats (no pixel likelihood)"
    elif metrics.get("iwae_bits_per_dim") is not None:
        score = f"{metrics['iwae_bits_per_dim']:.3f} bits/dim (IWAE-{metrics['iwae_k']})"
    elif metrics.get("iwae_nll_nats") is not None:
        score = f"{metrics['iwae_nll_nats']:.2f} nats NLL (IWAE-{metrics['iwae_k']})"
    else:
        score = f"ELBO {metrics.get('elbo_nats', float('nan')):.2f} nats"
    return f"{family_title(family)} on {dataset}, {metrics.get('latent_dims', '?')}-D code, {score}"


def metrics_lines(metrics: dict[str, Any]) -> list[str]:
    """The rows of the evaluation table (after its header) and the KL-per-dimension line."""
    lines = []
    features = metrics.get("likelihood_space") == "features"
    for key in ("iwae_nll_nats", "iwae_bits_per_dim", "elbo_nats", "elbo_bits_per_dim", "recon_nll_nats", "kl_nats",
                "kl_code_nats", "location_kl_nats", "iwae_k", "active_units", "latent_dims", "test_items"):
        if metrics.get(key) is not None:
            space = " (feature space)" if features and key in FEATURE_SPACE_KEYS else ""
            lines.append(f"| {key}{space} | {_fmt(metrics[key])} |")
    for key, value in metrics.items():
        if key.startswith(("bleu", "baseline", "attribute", "label_acc")):
            lines.append(f"| {key} | {_fmt(value)} |")
    return lines + ["", f"KL per latent dimension (nats): {', '.join(f'{v:.2f}' for v in metrics.get('kl_per_dim', [])[:64])}"]


def render_card(
    name: str, family: str, dataset: dict[str, Any], model_config: dict[str, Any], train_config: dict[str, Any],
    metrics: dict[str, Any], command: str, images: dict[str, str] | None = None, notes: list[str] | None = None,
) -> str:
    """Markdown model card with the exact command that produced the checkpoint."""
    lines = [
        f"# {name}",
        "",
        summary_line(family, dataset.get("name", "?"), metrics),
        "",
        "## How it was made",
        "",
        "```",
        command,
        "```",
        "",
        f"Data: {dataset.get('description') or dataset.get('name')}.",
        f"Trained on {metrics.get('device', '?')} in {metrics.get('train_seconds', float('nan')):.0f} s.",
        *([f"Posterior q(z | x): {metrics['posterior']}."] if metrics.get("posterior") else []),
        "",
        "## Evaluation",
        "",
        metrics.get("protocol", ""),
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += metrics_lines(metrics)
    if images:
        lines += ["", "## Pictures", ""]
        for title, path in images.items():
            lines += [f"**{title}**", "", f"![{title}]({path})", ""]
    lines += ["", "## Configuration", "", "Model:", "", "```json"]
    lines += [json.dumps(model_config, indent=2), "```", "", "Training:", "", "```json", json.dumps(train_config, indent=2), "```"]
    if metrics.get("disentanglement"):
        lines += ["", DISENTANGLEMENT_HEADING, "",
                  *disentanglement_lines(metrics["disentanglement"], metrics.get("disentanglement_info"))]
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def render_evaluation_card(
    model_name: str, family: str, dataset: dict[str, Any], model_config: dict[str, Any], metrics: dict[str, Any],
    command: str,
) -> str:
    """Markdown card of one evaluation (`python -m explorer.cli.evaluate`): the model, the data, the command and
    the same evaluation table a training card has."""
    lines = [
        f"# {model_name} evaluated on {dataset.get('name', '?')}",
        "",
        summary_line(family, dataset.get("name", "?"), metrics),
        "",
        "## How it was made",
        "",
        "```",
        command,
        "```",
        "",
        f"Model: {metrics.get('model', model_name)} (weights sha256 {metrics.get('weights_digest', '?')}).",
        f"Data: {dataset.get('description') or dataset.get('name')}, {metrics.get('split', 'test')} split.",
        f"Code: {metrics.get('code_name', 'posterior mean')}; likelihood: {metrics.get('likelihood_description', '?')}.",
        f"Evaluated on {metrics.get('device', '?')} in {metrics.get('eval_seconds', float('nan')):.0f} s "
        f"(maps: {', '.join(metrics.get('maps', [])) or 'none'}).",
        "",
        "## Evaluation",
        "",
        metrics.get("protocol", ""),
        "",
        "| metric | value |",
        "|---|---|",
        *metrics_lines(metrics),
        "",
        "## Model configuration",
        "",
        "```json",
        json.dumps(model_config, indent=2),
        "```",
    ]
    return "\n".join(lines) + "\n"


DISENTANGLEMENT_HEADING = "## Disentanglement"


def disentanglement_lines(entries: dict[str, dict[str, Any]], info: dict[str, Any] | None = None) -> list[str]:
    """The card's disentanglement section (after its heading): one row per metrics.json entry of
    `metrics["disentanglement"]` ("<dataset>/<metric>" -> value, spread over sampling seeds, description)."""
    if not entries:
        return []
    lines = []
    objective = next((a.get("objective") for a in (info or {}).values() if a.get("objective")), None)
    if objective:
        lines += [objective, ""]
    for dataset, about in sorted((info or {}).items()):
        seeds = ", ".join(str(s) for s in about.get("seeds", []))
        lines.append(f"On {dataset}, from the posterior means; preset {about.get('preset', '?')} "
                     f"({about.get('preset_description', '')}); sampling seeds {seeds}: the ± is their standard "
                     f"deviation. Command: `{about.get('command', '?')}`.")
        lines.append("")
    lines += ["| metric | value ± spread (sampling seeds) | what it measures |", "|---|---|---|"]
    for key, e in sorted(entries.items()):
        lines.append(f"| {key} | {_fmt(float(e['value']))} ± {_fmt(float(e.get('spread', 0.0)))} | {e.get('description', '')} |")
    return lines


def with_section(card: str, heading: str, body: list[str]) -> str:
    """The card with the section under `heading` (a "## ..." line, up to the next "## " heading) replaced by
    body, or appended when the card has none."""
    lines = card.rstrip("\n").split("\n")
    section = [heading, "", *body]
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines = lines[:start] + section + ([""] + lines[end:] if end < len(lines) else [])
    else:
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def objective_text(config: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The objective a checkpoint was trained with and how long it took, from its config.json and metrics.json:
    a plain VAE's ELBO, a beta-VAE's weighted KL, beta-TCVAE's and FactorVAE's total-correlation weight."""
    family, model = config.get("family", "?"), config.get("config") or {}
    training = config.get("training") or {}
    beta = float(training.get("beta", 1.0))
    kl = "KL" if beta == 1.0 else f"{beta:g} x KL"
    if family == "tcvae":
        what = (f"beta-TCVAE (Chen et al. 2018): reconstruction NLL + {kl} + ({float(model.get('tc_weight', 6)):g} - 1) x "
                f"total correlation, estimated by {model.get('tc_estimator', 'mws').upper()} sampling")
    elif family == "factorvae":
        what = (f"FactorVAE (Kim & Mnih 2018): reconstruction NLL + {kl} + {float(model.get('tc_weight', 35)):g} x the "
                "discriminator's total-correlation estimate")
    elif beta == 1.0:
        what = f"plain VAE ELBO ({family_title(family)}): reconstruction NLL + KL"
    else:
        what = f"beta-VAE (beta = {beta:g}, {family_title(family)}): reconstruction NLL + {beta:g} x KL"
    seconds = metrics.get("train_seconds")
    took = f"; trained in {float(seconds) / 60:.0f} min" if isinstance(seconds, (int, float)) else ""
    epochs = f" ({training['epochs']} epochs, seed {training.get('seed', '?')})" if "epochs" in training else ""
    return f"Objective: {what}{took}{epochs}."
