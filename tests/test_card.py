"""Cards are Hugging Face model cards: every shipped card parses with ModelCard.load offline, with a model-index of
at least three results; the model-index is built from whatever metrics hold, each score with its description."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from explorer.card import card_body, folder_card_data, hub_card, render_card, render_evaluation_card, rewrite_card

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
SHIPPED = sorted(p.parent for p in PRETRAINED.glob("*/config.json"))


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_card_parses_with_a_model_index_and_is_current(folder):
    path = folder / "README.md"
    card = ModelCard.load(path)  # a local path: read offline
    results = card.data.eval_results
    assert card.data.library_name in ("vae-latent-explorer", "diffusers") and card.data.datasets and card.data.tags
    assert len(results) >= 3, folder.name
    for r in results:
        assert r.task_type and r.dataset_type and r.metric_type and isinstance(r.metric_value, (int, float)) and r.metric_name
    # the card's metadata is what scripts/write_cards.py makes from the folder's metrics today
    text = path.read_text()
    assert hub_card(folder_card_data(folder), card_body(text)) == text, f"run python scripts/write_cards.py {folder}"


def test_the_model_index_holds_every_score_of_the_metrics_with_its_description():
    metrics = {"iwae_nll_nats": 91.5, "elbo_nats": -98.0, "active_units": 14, "iwae_k": 1000, "train_seconds": 3.0,
               "kl_per_dim": [1.0, 2.0], "protocol": "text", "codebook_perplexity": 41.0,
               "disentanglement": {"dsprites/mig": {"value": 0.21, "spread": 0.01, "description": "MIG on dSprites"}},
               "disentanglement_info": {"dsprites": {"seeds": [0, 1, 2]}}, "iwae_bits_per_dim": None,
               "metric_descriptions": {"codebook_perplexity": "codebook perplexity: codes in use (higher is better)"}}
    text = render_card("m", "conv", {"name": "mnist5k", "description": "MNIST"}, {"input_shape": [1, 28, 28],
                       "likelihood": "bernoulli"}, {}, metrics, "python train.py")
    card = ModelCard(text)
    got = {r.metric_type: r for r in card.data.eval_results}
    assert set(got) == {"iwae_nll_nats", "elbo_nats", "active_units", "codebook_perplexity",
                        "disentanglement.dsprites/mig", "iwae_bits_per_dim", "elbo_bits_per_dim"}
    assert got["disentanglement.dsprites/mig"].metric_value == 0.21  # one result: the value, its spread in its name
    assert got["disentanglement.dsprites/mig"].metric_name == "MIG on dSprites (± 0.01 over its sampling seeds)"
    assert got["iwae_nll_nats"].metric_value == 91.5 and got["iwae_nll_nats"].dataset_type == "mnist5k"
    assert got["iwae_bits_per_dim"].metric_value == pytest.approx(91.5 / (784 * 0.6931471805599453))
    assert got["codebook_perplexity"].metric_name.startswith("codebook perplexity: codes in use")
    assert "negative log-likelihood" in got["iwae_nll_nats"].metric_name
    assert card.text.lstrip().startswith("# m\n") and "python train.py" in card.text  # the Markdown follows the metadata


def test_an_evaluation_card_names_its_split_and_round_trips(tmp_path):
    metrics = {"elbo_nats": -20.0, "recon_nll_nats": 15.0, "kl_nats": 5.0, "split": "train", "weights_digest": "ab"}
    text = render_evaluation_card("conv-digits", "conv", {"name": "digits", "options": {"image_size": 28}},
                                  {"input_shape": [1, 8, 8], "likelihood": "gaussian"}, metrics, "vae-evaluate ...")
    (tmp_path / "README.md").write_text(text)
    results = ModelCard.load(tmp_path / "README.md").data.eval_results
    assert {r.metric_type for r in results} == {"elbo_nats", "recon_nll_nats", "kl_nats"}  # options are no scores
    assert {r.dataset_split for r in results} == {"train"} and "evaluation" in ModelCard(text).data.tags


def test_rewriting_a_card_keeps_its_prose_and_is_idempotent(tmp_path):
    folder = tmp_path / "conv-mnist5k"
    shutil.copytree(PRETRAINED / "conv-mnist5k", folder, ignore=shutil.ignore_patterns("*.safetensors", "*.png"))
    prose = card_body((folder / "README.md").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["active_units"] = 3
    (folder / "metrics.json").write_text(json.dumps(metrics))
    first = rewrite_card(folder).read_text()
    assert card_body(first) == prose and rewrite_card(folder).read_text() == first
    assert {r.metric_type: r.metric_value for r in ModelCard(first).data.eval_results}["active_units"] == 3
    with pytest.raises(ValueError, match="metrics.json"):
        (folder / "metrics.json").unlink()
        rewrite_card(folder)
