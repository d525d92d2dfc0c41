"""Caption and label metrics of any model that declares them in `capabilities()`, on a DataSplit's test split.

Predictions average `capabilities().prediction_draws` draws of the code from q(z | x) (the posterior mean when
that is 1): label probabilities through `label_probabilities(codes)` and greedy captions through
`captions(codes, method="greedy")`, with codes (B, M, *latent_shape) (M > 1) or (B, *latent_shape). Images are scored in their fixed scoring
form (explorer.analysis.evaluation.scoring_inputs), as the ELBO is. Metric names (metrics.json, the card):

- `prediction_draws`, `label_accuracy` (test items with a label);
- `bleu1`..`bleu4` of the greedy captions against each test image's references, `baseline_caption` (the most
  frequent training caption) and its `baseline_bleu1`..`baseline_bleu4`, `caption_test_items`,
  `caption_examples` (8 greedy captions beside a reference);
- `attribute_acc_colour|shape|size|position` and `attribute_grammatical`, where the data set parses captions
  (`extras["parse_caption"]`, e.g. explorer.data.shapes.parse_caption) and knows each image's attributes.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from explorer.analysis.evaluation import scoring_inputs
from explorer.data.base import DataSplit, stack_images
from explorer.data.captions import CaptionedImageDataset
from explorer.models.base import VAE, eval_mode
from explorer.text import bleu_scores, most_frequent_caption

ATTRIBUTES = ("colour", "shape", "size", "position")
N_EXAMPLES = 8


@torch.no_grad()
def prediction_codes(model: VAE, x: Tensor, draws: int, generator: torch.Generator | None = None) -> Tensor:
    """The codes whose predictions are averaged: the posterior means (B, *latent_shape) for draws <= 1, else
    `draws` reparameterised draws from q(z | x) per image, (B, draws, *latent_shape), taken with `generator`."""
    if draws <= 1:
        return model.encode_code(x)
    return model.code_from_latent(model.encode(x).expand_draws(draws).rsample(generator))


def attribute_accuracy(captions: list[str], truth: list[dict[str, Any]],
                       parse: Callable[[str], dict[str, Any]]) -> dict[str, float]:
    """Share of captions whose first-named object has the true colour, shape, size and position, each
    separately, and the share that parse as grammatical. truth: each image's attributes by name."""
    hits = {a: 0 for a in ATTRIBUTES}
    grammatical = 0
    for text, true in zip(captions, truth):
        got = parse(text)
        grammatical += bool(got.get("grammatical"))
        for a in ATTRIBUTES:
            hits[a] += got.get(a) is not None and got.get(a) == true.get(a)
    n = max(len(captions), 1)
    out = {f"attribute_acc_{a}": hits[a] / n for a in ATTRIBUTES}
    out["attribute_grammatical"] = grammatical / n
    return out


def reference_metrics(hypotheses: list[str], data: DataSplit) -> dict[str, Any]:
    """BLEU of one caption per test item (in order) against the test references, the most-frequent-caption
    baseline, and attribute accuracy where the data set supports it. Items without references are skipped."""
    test, train = data.test, data.train
    if not isinstance(test, CaptionedImageDataset):
        return {}
    keep = [i for i in range(len(hypotheses)) if test.references(i)]
    hyps = [hypotheses[i] for i in keep]
    refs = [test.references(i) for i in keep]
    metrics: dict[str, Any] = dict(bleu_scores(hyps, refs))
    train_caps = [c for caps in train.captions for c in (caps or [])] if isinstance(train, CaptionedImageDataset) else []
    baseline = most_frequent_caption(train_caps)
    metrics["baseline_caption"] = baseline
    metrics.update({f"baseline_{k}": v for k, v in bleu_scores([baseline] * len(hyps), refs).items()})
    metrics["caption_test_items"] = len(hyps)
    parse = data.extras.get("parse_caption")
    if parse is not None and test.attributes is not None:
        metrics.update(attribute_accuracy(hyps, [test.attributes[i] for i in keep], parse))
    metrics["caption_examples"] = [{"greedy": hyps[i], "reference": refs[i][0]} for i in range(min(N_EXAMPLES, len(hyps)))]
    return metrics


@torch.no_grad()
def caption_metrics(model: VAE, data: DataSplit, batch_size: int = 250, seed: int = 0) -> dict[str, Any]:
    """Test-split label accuracy (where `capabilities().labels`) and caption quality (where `.captions` and the
    test split has references); {} for a model that declares neither. See the module docstring for the names."""
    caps = model.capabilities()
    if not (caps.captions or caps.labels):
        return {}
    with eval_mode(model):
        images, labels = stack_images(data.test)
        x_all = scoring_inputs(images, model.config.likelihood)
        device = model.device
        gen = torch.Generator(device=device).manual_seed(seed)
        probs: list[Tensor] = []
        greedy: list[str] = []
        for start in range(0, len(x_all), batch_size):
            codes = prediction_codes(model, x_all[start : start + batch_size].to(device), caps.prediction_draws, gen)
            if caps.labels:
                probs.append(model.label_probabilities(codes).cpu())  # (B, n_classes), averaged over any M codes
            if caps.captions:
                greedy += model.captions(codes, method="greedy")
    metrics: dict[str, Any] = {"prediction_draws": caps.prediction_draws}
    if probs and bool((labels >= 0).any()):
        pred = torch.cat(probs).argmax(-1)
        metrics["label_accuracy"] = float((pred == labels)[labels >= 0].float().mean())
    if greedy:
        metrics.update(reference_metrics(greedy, data))
    return metrics


def _seeded(generator: torch.Generator | None, device: torch.device) -> torch.Generator:
    """The caller's generator, or a fresh one seeded 0: the same images always give the same predictions."""
    return generator if generator is not None else torch.Generator(device=device).manual_seed(0)


@torch.no_grad()
def captions_for_images(model: VAE, x: Tensor, method: str = "greedy", draws: int | None = None, n: int = 1,
                        temperature: float = 1.0, beam_size: int = 5, generator: torch.Generator | None = None,
                        max_len: int | None = None) -> list[str]:
    """Captions of images x (B, C, H, W) through their codes, next-word probabilities averaged over `draws`
    draws from q(z | x) (default: the model's `prediction_draws`; 1: the posterior mean). Returns B strings for
    "greedy", B * n for "sample" and "beam", grouped by image."""
    draws = model.capabilities().prediction_draws if draws is None else draws
    gen = _seeded(generator, model.device)
    codes = prediction_codes(model, x.to(model.device), draws, gen)
    return model.captions(codes, method=method, n=n, temperature=temperature, beam_size=beam_size, generator=gen,
                          max_len=max_len)


@torch.no_grad()
def score_captions(model: VAE, x: Tensor, texts: list[str], draws: int | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """log p(text_i | x_i) (B,): each caption's probability given its image, averaged over `draws` draws of the
    code (default: the model's `prediction_draws`)."""
    draws = model.capabilities().prediction_draws if draws is None else draws
    codes = prediction_codes(model, x.to(model.device), draws, _seeded(generator, model.device))
    return model.caption_log_prob(codes, texts)


def _summary_batch(data: DataSplit, limit: int, device: torch.device | str):
    """The first `limit` test items of a DataSplit, batched by its declared `collate_fn` (or stacked): images
    (N, C, H, W) as loaded, labels (N,), and captions (N, R, T) with counts (N,) where the batches carry them."""
    items = [data.test[i] for i in range(min(limit, len(data.test)))]
    if data.collate_fn is not None:
        x, labels, captions, counts = (list(data.collate_fn(items)) + [None] * 4)[:4]
    else:
        x, captions, counts = torch.stack([item[0] for item in items]), None, None
        labels = torch.tensor([int(item[1]) for item in items])
    move = lambda t: None if t is None else t.to(device)  # noqa: E731
    return move(x), move(labels), move(captions), move(counts)


@torch.no_grad()
def epoch_summary(model: VAE, data: DataSplit, device: torch.device | str, limit: int = 256) -> dict[str, str | float]:
    """What the trainer logs after each epoch for a model with a label or caption head, on the first `limit`
    test items ({} for any other model): label accuracy, caption loss (nats per caption and per word) and 3
    sampled captions beside their references. No BLEU: `caption_metrics` scores the export."""
    caps = model.capabilities()
    if not (caps.captions or caps.labels):
        return {}
    with eval_mode(model):
        x, labels, captions, counts = _summary_batch(data, limit, device)
        codes = model.encode_code(x)  # (N, *latent_shape): the posterior means
        out: dict[str, str | float] = {}
        if caps.labels and labels is not None and bool((labels >= 0).any()):
            pred = model.label_probabilities(codes).argmax(-1)
            out["label_accuracy"] = float((pred == labels)[labels >= 0].float().mean())
        if caps.captions and captions is not None and bool((counts > 0).any()):
            has = counts > 0
            tokens = captions[has, 0]  # (N', T): each captioned item's first reference, 0-padded
            nll = -model.caption_log_prob(codes[has], tokens)
            words = (tokens != 0).sum(1).clamp_min(1)
            out["caption_nll"] = float(nll.mean())
            out["caption_nll_per_word"] = float((nll / words).mean())
            gen = torch.Generator(device=x.device).manual_seed(0)
            texts = model.captions(codes[:3], method="sample", generator=gen)
            test = data.test
            refs = [test.references(i)[0] if isinstance(test, CaptionedImageDataset) and test.references(i) else "?"
                    for i in range(len(texts))]
            out["sampled_captions"] = " | ".join(f"{t}  [true: {r}]" for t, r in zip(texts, refs))
        return out
