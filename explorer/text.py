"""Caption text: a tokenizer, a vocabulary built from training captions, and BLEU against several references.

The tokenizer is deliberately plain (lower case, runs of letters, digits and apostrophes), so that the same
rule reads the embedded `shapes` grammar, Flickr8k's captions.txt and COCO captions. The vocabulary keeps
three special tokens at fixed ids: padding 0, end of caption 1, unknown word 2. BLEU is nltk's corpus BLEU,
which needs no downloaded data, so evaluation runs offline.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import Tensor

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
SPECIALS = (PAD, EOS, UNK)
TOKENIZER_NAME = "lower-alnum-v1"  # stored in vocab.json so a changed rule is noticed on load
_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of a caption; punctuation and spacing are dropped."""
    return _TOKEN.findall(text.lower())


@dataclass
class Vocab:
    """Words by id: `words[0:3]` are the specials <pad>, <eos>, <unk>; the rest by training frequency."""

    words: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.words = list(self.words)
        if tuple(self.words[:3]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {self.words[:3]}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1, max_size: int | None = None) -> "Vocab":
        """Vocabulary of the words seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *kept])

    @classmethod
    def placeholder(cls, size: int) -> "Vocab":
        """A stand-in of the right size for a model built without its vocab.json (words print as <w17>)."""
        return cls([*SPECIALS, *(f"<w{i}>" for i in range(len(SPECIALS), max(size, len(SPECIALS))))])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Token ids of a caption followed by <eos>; with max_len, words are cut so that <eos> still fits."""
        ids = [self.index.get(w, UNK_ID) for w in tokenize(text)]
        if max_len is not None:
            ids = ids[: max_len - 1]
        return ids + [EOS_ID]

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Words up to the first <eos>, padding skipped."""
        out = []
        for i in (ids.tolist() if isinstance(ids, Tensor) else ids):
            if i == EOS_ID:
                break
            if i != PAD_ID:
                out.append(self.words[i] if 0 <= i < len(self.words) else UNK)
        return " ".join(out)

    def to_json(self) -> str:
        return json.dumps({"tokenizer": TOKENIZER_NAME, "specials": list(SPECIALS), "words": self.words}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        payload = json.loads(text)
        if payload.get("tokenizer") != TOKENIZER_NAME:
            raise ValueError(f"vocab.json was written for tokenizer {payload.get('tokenizer')!r}, this code has {TOKENIZER_NAME!r}")
        return cls(payload["words"])


def encode_references(vocab: Vocab, captions: Sequence[Sequence[str] | None], max_len: int) -> tuple[Tensor, Tensor]:
    """Every image's reference captions as padded ids (N, R, T) and the count of captions per image (N,).

    An image with no captions (None or empty) has count 0 and an all-padding row.
    """
    n_refs = max((len(c) for c in captions if c), default=1)
    encoded = [[vocab.encode(c, max_len) for c in (caps or [])] for caps in captions]
    length = max((len(ids) for caps in encoded for ids in caps), default=1)
    out = torch.full((len(captions), n_refs, length), PAD_ID, dtype=torch.long)
    counts = torch.zeros(len(captions), dtype=torch.long)
    for i, caps in enumerate(encoded):
        counts[i] = len(caps)
        for r, ids in enumerate(caps):
            out[i, r, : len(ids)] = torch.tensor(ids)
    return out, counts


def bleu_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU-1..4 (0..1) of one hypothesis per item against all of that item's references."""
    from nltk.translate.bleu_score import corpus_bleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    hyp = [tokenize(h) for h in hypotheses]
    refs = [[tokenize(r) for r in rs] for rs in references]
    weights = [(1.0,), (0.5, 0.5), (1 / 3, 1 / 3, 1 / 3), (0.25, 0.25, 0.25, 0.25)]
    with warnings.catch_warnings():  # nltk warns when an order has no overlap; the score is then 0, as reported
        warnings.simplefilter("ignore", UserWarning)
        scores = corpus_bleu(refs, hyp, weights=weights)
    return {f"bleu{n}": float(s) for n, s in zip(range(1, 5), scores)}


def most_frequent_caption(captions: Iterable[str]) -> str:
    """The single most frequent caption (after tokenisation; ties broken alphabetically): the BLEU baseline."""
    counts = Counter(" ".join(tokenize(c)) for c in captions)
    return min(counts, key=lambda c: (-counts[c], c))
