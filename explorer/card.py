"""The model card (README.md) written beside each checkpoint and each evaluation: a Hugging Face model card.

One writer for every card (trained by train.py, evaluated by vae-evaluate, the shipped teacher, the shipped cards
rewritten by scripts/write_cards.py): `hub_card(card_data(...), body)`. The YAML metadata is built with
huggingface_hub's `ModelCardData` (library_name, tags, datasets) and a `model-index` of `EvalResult`s made from
whatever the metrics hold (`eval_results`): every numeric score, nested ones flattened with dots, each named by its
one-line description (`describe_metric`). `ModelCard.load(path).data.eval_results` reads them back, offline.
`ModelCard.validate()` is never called: it posts the card to the Hub.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from explorer.files import atomic_write_bytes
from explorer.models.foreign.detect import TRAINING_RECORD

LIBRARY_NAME = "vae-latent-explorer"
TASK_TYPE = "unconditional-image-generation"  # the Hub's task closest to a VAE's; task_name says what is scored
TASK_NAME = "Variational autoencoding (likelihood bounds and latent statistics)"
BASE_TAGS = ("vae", "variational-autoencoder", "latent-space", LIBRARY_NAME)

# one line per score: what it is and which way is better (the EvalResult's metric name)
METRIC_DESCRIPTIONS = {
    "iwae_nll_nats": "IWAE bound on the negative log-likelihood, nats per image (lower is better)",
    "iwae_bits_per_dim": "IWAE bound on the negative log-likelihood, bits per dimension (lower is better)",
    "elbo_nats": "evidence lower bound (ELBO), nats per image (higher is better)",
    "elbo_bits_per_dim": "negative ELBO, bits per dimension (lower is better)",
    "recon_nll_nats": "reconstruction term -E_q[log p(x | z)], nats per image (lower is better)",
    "kl_nats": "KL(q(z | x) || p(z)), nats per image",
    "kl_code_nats": "KL of the code part of the latent, nats per image",
    "location_kl_nats": "KL of the location part of the latent, nats per image",
    "active_units": "active units: code dimensions whose posterior mean varies over the test set (Cov > 0.01)",
    "label_accuracy": "accuracy of the label head on test codes (higher is better)",
    "attribute_grammatical": "share of captions decoded from test codes that parse as the grammar's sentences",
    "mean_psnr_whole_db": "PSNR of held-out whole photographs reconstructed from the posterior mean, dB (higher is better)",
    "mean_psnr_tiles_db": "PSNR of held-out photographs' 64 px tiles, each reconstructed on its own, dB (higher is better)",
    "mean_psnr_loaded_db": "PSNR of held-out whole photographs as the explorer runs the folder (in its 64 px tiles, "
                           "overlapping and blended), dB (higher is better)",
    "test_elbo_nats": "ELBO on the test split at the end of training, nats per image (higher is better)",
}
METRIC_PATTERNS = (  # families of scores, described by their pattern
    (re.compile(r"^bleu(\d)$"), "BLEU-{0} of captions decoded from test codes (higher is better)"),
    (re.compile(r"^baseline_bleu(\d)$"), "BLEU-{0} of the one most common caption, the floor to beat"),
    (re.compile(r"^attribute_acc_(\w+)$"), "accuracy of the {0} named in captions decoded from test codes"),
    (re.compile(r"^psnr_whole_db\.(\w+)$"), "PSNR of the held-out photograph {0}, reconstructed whole, dB"),
    (re.compile(r"^psnr_tiles_db\.(\w+)$"), "PSNR of the held-out photograph {0} over its 64 px tiles, dB"),
    (re.compile(r"^psnr_loaded_db\.(\w+)$"), "PSNR of the held-out photograph {0} as the explorer runs the folder "
                                              "(in its 64 px tiles, blended), dB"),
)
# numbers in metrics.json that describe the run, not the model's quality
NOT_SCORES = {"iwae_k", "active_unit_threshold", "latent_dims", "test_items", "caption_test_items", "prediction_draws",
              "steps", "epochs", "epochs_trained", "parameters", "tile", "seed", "scaling_factor", "batch_size", "lr",
              "beta", "dataset", "options", "disentanglement_info"}


def describe_metric(key: str, metrics: Mapping[str, Any] | None = None) -> str:
    """The one-line description of a score: metrics' own `metric_descriptions` entry, this module's, or its name."""
    own = (metrics or {}).get("metric_descriptions") or {}
    if key in own:
        return str(own[key])
    if key in METRIC_DESCRIPTIONS:
        return METRIC_DESCRIPTIONS[key]
    outer, _, inner = key.partition(".")
    entry = ((metrics or {}).get(outer) or {}).get(inner) if inner else None
    if isinstance(entry, Mapping) and entry.get("description"):  # a disentanglement entry describes itself
        spread = f" (± {float(entry['spread']):.3g} over its sampling seeds)" if _number(entry.get("spread")) else ""
        return f"{entry['description']}{spread}"
    for pattern, text in METRIC_PATTERNS:
        found = pattern.match(key)
        if found:
            return text.format(*found.groups())
    return key.replace("_", " ").replace(".", ": ")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def scores(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    """Every numeric score in metrics (nested objects flattened as "outer.inner"), in order: numbers that describe
    the run (NOT_SCORES, *_seconds), lists, texts, booleans and non-finite values left out. An object with a numeric
    "value" is one score (a disentanglement entry: its value, with its spread and settings beside it)."""
    out: list[tuple[str, float]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if key in NOT_SCORES or key.endswith("_seconds") or key == "metric_descriptions":
            continue
        if isinstance(value, Mapping) and _number(value.get("value")):
            out.append((name, float(value["value"])))
        elif isinstance(value, Mapping):
            out += scores(value, f"{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append((name, float(value) if isinstance(value, float) else int(value)))
    return out


def derived_bits_per_dim(metrics: Mapping[str, Any], input_shape: Iterable[int] | None, likelihood: str | None) -> dict[str, float]:
    """Bits per dimension of a Bernoulli model (a discrete likelihood, so nats / (D ln 2)) where metrics lack them;
    none for a bound in a feature space (VAE/GAN), which is no density over pixels."""
    if likelihood != "bernoulli" or not input_shape or metrics.get("likelihood_space") == "features":
        return {}
    dims = math.prod(int(s) for s in input_shape) * math.log(2.0)
    out = {}
    if metrics.get("iwae_bits_per_dim") is None and isinstance(metrics.get("iwae_nll_nats"), (int, float)):
        out["iwae_bits_per_dim"] = float(metrics["iwae_nll_nats"]) / dims
    if metrics.get("elbo_bits_per_dim") is None and isinstance(metrics.get("elbo_nats"), (int, float)):
        out["elbo_bits_per_dim"] = -float(metrics["elbo_nats"]) / dims
    return out


def eval_results(metrics: Mapping[str, Any], dataset: Mapping[str, Any], split: str = "test",
                 input_shape: Iterable[int] | None = None, likelihood: str | None = None) -> list[EvalResult]:
    """The model-index entries of metrics on a data set (its `name` and `description`): one EvalResult per score."""
    values = {**dict(scores(metrics)), **derived_bits_per_dim(metrics, input_shape, likelihood)}
    features = metrics.get("likelihood_space") == "features"

    def space(key: str) -> str:
        return " (feature space: no pixel likelihood)" if features and key in FEATURE_SPACE_KEYS else ""

    name = str(dataset.get("name") or "?")
    return [EvalResult(task_type=TASK_TYPE, task_name=TASK_NAME, dataset_type=name,
                       dataset_name=str(dataset.get("description") or name), dataset_split=split,
                       metric_type=key, metric_value=value, metric_name=describe_metric(key, metrics) + space(key))
            for key, value in values.items()]


def card_data(name: str, family: str, dataset: Mapping[str, Any], metrics: Mapping[str, Any], *, split: str = "test",
              input_shape: Iterable[int] | None = None, likelihood: str | None = None,
              library_name: str = LIBRARY_NAME, tags: Iterable[str] = ()) -> ModelCardData:
    """The card's YAML metadata: library_name, tags, datasets and the model-index of `eval_results`."""
    results = eval_results(metrics, dataset, split, input_shape, likelihood)
    all_tags = list(dict.fromkeys([*BASE_TAGS, family, *tags]))
    return ModelCardData(library_name=library_name, tags=all_tags, datasets=[str(dataset.get("name") or "?")],
                         model_name=name, eval_results=results or None)


def hub_card(data: ModelCardData, body: str) -> str:
    """The card's text: YAML metadata between --- lines, then the Markdown body (a ModelCard round-trips it)."""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body.lstrip()}"))


def card_body(text: str) -> str:
    """The Markdown of a card without its YAML metadata (the whole text of a card that has none)."""
    return ModelCard(text).text if text.startswith("---") else text


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
    for key, text in metrics.get("metric_descriptions", {}).items():  # figures a family adds, each with its line
        if metrics.get(key) is not None:
            lines.append(f"| {key}: {text} | {_fmt(metrics[key])} |")
    return lines + ["", f"KL per latent dimension (nats): {', '.join(f'{v:.2f}' for v in metrics.get('kl_per_dim', [])[:64])}"]


def _made_by(title: str, family: str, dataset: dict[str, Any], metrics: dict[str, Any], command: str) -> list[str]:
    """A card's head, the same for a training and an evaluation card: title, summary line, the exact command."""
    return [f"# {title}", "", summary_line(family, dataset.get("name", "?"), metrics), "",
            "## How it was made", "", "```", command, "```", ""]


def _evaluation(metrics: dict[str, Any]) -> list[str]:
    """A card's evaluation section: the protocol, then the table of metrics."""
    return ["## Evaluation", "", metrics.get("protocol", ""), "", "| metric | value |", "|---|---|",
            *metrics_lines(metrics)]


def render_card(
    name: str, family: str, dataset: dict[str, Any], model_config: dict[str, Any], train_config: dict[str, Any],
    metrics: dict[str, Any], command: str, images: dict[str, str] | None = None, notes: list[str] | None = None,
) -> str:
    """The Hugging Face model card (YAML metadata with the model-index, then Markdown) with the exact command that
    produced the checkpoint."""
    lines = [
        *_made_by(name, family, dataset, metrics, command),
        f"Data: {dataset.get('description') or dataset.get('name')}.",
        f"Trained on {metrics.get('device', '?')} in {metrics.get('train_seconds', float('nan')):.0f} s.",
        *([f"Posterior q(z | x): {metrics['posterior']}."] if metrics.get("posterior") else []),
        "",
        *_evaluation(metrics),
    ]
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
    data = card_data(name, family, dataset, metrics, input_shape=model_config.get("input_shape"),
                     likelihood=model_config.get("likelihood"))
    return hub_card(data, "\n".join(lines) + "\n")


def render_evaluation_card(
    model_name: str, family: str, dataset: dict[str, Any], model_config: dict[str, Any], metrics: dict[str, Any],
    command: str,
) -> str:
    """The Hugging Face card of one evaluation (`python -m explorer.cli.evaluate`): its model-index, then the model,
    the data, the command and the same evaluation table a training card has."""
    lines = [
        *_made_by(f"{model_name} evaluated on {dataset.get('name', '?')}", family, dataset, metrics, command),
        f"Model: {metrics.get('model', model_name)} (weights sha256 {metrics.get('weights_digest', '?')}).",
        f"Data: {dataset.get('description') or dataset.get('name')}, {metrics.get('split', 'test')} split.",
        f"Code: {metrics.get('code_name', 'posterior mean')}; likelihood: {metrics.get('likelihood_description', '?')}.",
        f"Evaluated on {metrics.get('device', '?')} in {metrics.get('eval_seconds', float('nan')):.0f} s "
        f"(maps: {', '.join(metrics.get('maps', [])) or 'none'}).",
        "",
        *_evaluation(metrics),
        "",
        "## Model configuration",
        "",
        "```json",
        json.dumps(model_config, indent=2),
        "```",
    ]
    data = card_data(f"{model_name} on {dataset.get('name', '?')}", family, dataset, metrics,
                     split=str(metrics.get("split", "test")), input_shape=model_config.get("input_shape"),
                     likelihood=model_config.get("likelihood"), tags=("evaluation",))
    return hub_card(data, "\n".join(lines) + "\n")


def teacher_card_data(name: str, scores: Mapping[str, Any]) -> ModelCardData:
    """The metadata of the shipped teacher's card (a diffusers folder) from its scores (teacher.json)."""
    photos = ", ".join(scores.get("train_photos", []))
    dataset = {"name": "photos", "description": f"photos: 64 px crops of {photos}; held out whole: "
                                                f"{', '.join(scores.get('held_out', []))}"}
    return card_data(name, "autoencoder_kl", dataset, scores, split="held-out photographs", library_name="diffusers",
                     tags=("autoencoder-kl", "diffusers"))


def student_card_data(name: str, info: Mapping[str, Any]) -> ModelCardData:
    """The metadata of a distilled student's card (an AutoencoderTiny folder) from its student.json: its PSNR scores
    against the teacher on held-out photographs."""
    dataset = {"name": str(info.get("data", "?")),
               "description": f"held-out photographs, decoded by the teacher {info.get('teacher', '?')}"}
    return card_data(name, "autoencoder_tiny", dataset, info.get("scores") or {}, split="held-out photographs",
                     library_name="diffusers", tags=("autoencoder-tiny", "distilled-preview"))


def folder_card_data(folder: str | Path) -> ModelCardData:
    """The card metadata of a model folder from the files beside its weights, with no model loaded: a native
    checkpoint's config.json and metrics.json, or the teacher's (diffusers) config.json and teacher.json."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    if (folder / TRAINING_RECORD).is_file():  # the shipped diffusers teacher (explorer.analysis.teacher)
        return teacher_card_data(folder.name, json.loads((folder / TRAINING_RECORD).read_text()))
    if (folder / "student.json").is_file():  # a distilled student (explorer.preview.distill)
        return student_card_data(folder.name, json.loads((folder / "student.json").read_text()))
    metrics_path = folder / "metrics.json"
    if "family" not in config or not metrics_path.is_file():
        raise ValueError(f"{folder}: a card is rewritten from config.json (with 'family') and metrics.json, or "
                         "config.json and teacher.json")
    model_config = config.get("config") or {}
    return card_data(folder.name, config["family"], config.get("dataset") or {"name": "?"},
                     json.loads(metrics_path.read_text()), input_shape=model_config.get("input_shape"),
                     likelihood=model_config.get("likelihood"))


def rewrite_card(folder: str | Path) -> Path:
    """Rewrite a model folder's README.md as a Hugging Face card: fresh metadata from its files (`folder_card_data`)
    above the Markdown the card already has (its prose kept as written). Returns the card's path."""
    path = Path(folder) / "README.md"
    body = card_body(path.read_text()) if path.is_file() else f"# {Path(folder).name}\n"
    atomic_write_bytes(path, hub_card(folder_card_data(folder), body).encode())
    return path


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
