"""PuConfig: every option of the Pu et al. (2016) family, each with its help text (`metadata["help"]`), from
which the training CLI makes its options. `vocab_words` is filled from the data or vocab.json and is not
written to config.json."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from explorer.models.base import VAEConfig
from explorer.models.blocks.layers import ACTIVATIONS
from explorer.models.pu.bsvm import MULTICLASS
from explorer.models.pu.caption import RNNS
from explorer.models.pu.pooling import blocks_shape

LOCATION_LOGITS = ("activation", "mlp")
EVAL_POOLING = ("fixed-seed", "sample", "mode")
DISPLAY_UNPOOL = ("expected", "fixed-seed")
PAD_MODES = ("zero-pad-masked",)
LABEL_HEADS = ("softmax", "bsvm")


def _help(default: Any, text: str) -> Any:
    """A dataclass field with its default and its help text."""
    return field(default=default, metadata={"help": text})


@dataclass
class PuConfig(VAEConfig):
    ignored_fields = ("latent_dim",)  # derived from the code shape (latent_channels and the layers): train.py refuses it
    input_shape: tuple[int, int, int] = _help((3, 32, 32), "(C, H, W) of the data")
    # encoder: conv layer l has channels[l] maps and kernel kernel_sizes[l]; stochastic pooling with block size
    # pool_sizes[l] follows every layer but the last. The decoder mirrors it with one dictionary per layer.
    channels: tuple[int, ...] = _help((4, 6), "maps of each encoder conv layer, bottom first")
    kernel_sizes: tuple[int, ...] = _help((3, 3), "kernel of each encoder conv layer (odd)")
    pool_sizes: tuple[int, ...] = _help((3,), "block side p of the stochastic pooling after each layer but the last")
    dec_kernel_sizes: tuple[int, ...] = _help((3, 3), "decoder dictionary sizes, image layer first (odd; 'same' padding)")
    latent_channels: int = _help(0, "maps of the code s; 0: as many as the top encoder layer")
    code_kernel: int = _help(1, "kernel of the conv that turns the top feature map into mean and log-variance (odd)")
    activation: str = _help("relu", "encoder nonlinearity after each conv ('none' for a linear encoder)")
    decoder_activation: str = _help("none", "DGDN layer nonlinearity; anything but 'none' loses the exact expected decode")
    pad_mode: str = _help("zero-pad-masked", "maps are zero-padded at the bottom/right to a multiple of p; padded cells "
                                             "get probability 0 in q and in the prior")
    location_logits: str = _help("activation", "'activation': logits = scale * block activations; 'mlp': a small "
                                               "MLP per block (as a from-scratch notebook implementation of the "
                                               "paper does)")
    location_mlp_hidden: int = _help(20, "hidden width of the per-block MLP (shared by all channels and blocks)")
    learn_location_scale: bool = _help(True, "learn the scale of 'activation' logits (one per pooling layer)")
    location_scale_init: float = _help(1.0, "initial scale of 'activation' logits; small values start near-uniform pooling")
    gumbel_tau: float = _help(1.0, "temperature of the Gumbel-softmax relaxation used for gradients in training")
    eval_pooling: str = _help("fixed-seed", "cells in eval mode: 'fixed-seed' (an exact draw from q with one fixed noise "
                                            "pattern: deterministic per image), 'sample' (a fresh draw), 'mode' (the "
                                            "most probable cell)")
    display_unpool: str = _help("expected", "unpooling of a code without encoder locations: 'expected' (value / n over "
                                            "a block's n real cells) or 'fixed-seed'")
    display_seed: int = _help(0, "seed of the 'fixed-seed' display locations")
    location_kl_weight: float = _help(1.0, "weight of the location KL (1: the ELBO)")
    # labels: a classifier on s (softmax or the paper's Bayesian SVM, explorer.models.pu.bsvm); no head when
    # class_names is empty
    class_names: tuple[str, ...] = _help((), "label names of the classifier on s (empty: no label head)")
    label_head: str = field(default="softmax", metadata={
        "help": "label model: 'softmax' (cross-entropy) or 'bsvm' (Pu et al.'s Bayesian SVM: one-vs-rest hinge "
                "pseudo-likelihood with Polson-Scott augmentation, an EM step per batch)", "choices": LABEL_HEADS})
    bsvm_multiclass: str = field(default="one-vs-rest", metadata={
        "help": "bsvm head with K > 2 classes: 'one-vs-rest' (K binary hinges) or 'crammer-singer' (one hinge on "
                "the true class's margin over the best other)", "choices": MULTICLASS})
    label_weight: float = _help(1.0, "weight of the label term (-log p(y | s), or the bsvm's -log pseudo-likelihood)")
    label_hidden: int = _help(0, "hidden layer (ELU) of the classifier (0: linear on the head input)")
    # what the label and caption heads read: s itself (no reader, the paper's form) or features of s from a small
    # conv net over the code map (3x3 convs with ELU; shared weights find an object wherever it sits in the map)
    reader_channels: tuple[int, ...] = _help((), "maps of each 3x3 conv of the code reader the heads read (empty: s itself)")
    reader_strides: tuple[int, ...] = _help((), "stride of each reader layer (default 1 each)")
    # captions: no head when vocab_size is 0; the words live in vocab.json beside the weights
    vocab_size: int = _help(0, "caption vocabulary size, special tokens included (0: no caption head)")
    vocab_words: tuple[str, ...] = _help((), "the caption words (from the data or vocab.json; not written to config.json)")
    rnn: str = _help("gru", "caption RNN: 'gru' or 'lstm'")
    embed_dim: int = _help(32, "word embedding size of the caption RNN")
    hidden_dim: int = _help(128, "hidden size of the caption RNN")
    code_feed_dim: int = _help(64, "size of the projection of s fed to the caption RNN at every step")
    caption_weight: float = _help(1.0, "weight of the caption term -log p(caption | s)")
    max_caption_len: int = _help(24, "longest caption in tokens (words + <eos>)")
    eval_draws: int = _help(8, "draws of s averaged for label and caption predictions at evaluation")

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.kernel_sizes = tuple(int(k) for k in self.kernel_sizes)
        self.pool_sizes = tuple(int(p) for p in self.pool_sizes)
        self.dec_kernel_sizes = tuple(int(k) for k in self.dec_kernel_sizes)
        self.class_names = tuple(str(c) for c in self.class_names)
        self.reader_channels = tuple(int(c) for c in self.reader_channels)
        self.reader_strides = tuple(int(s) for s in self.reader_strides) or (1,) * len(self.reader_channels)
        if len(self.reader_strides) != len(self.reader_channels):
            raise ValueError("reader_strides needs one entry per reader layer")
        self.vocab_words = tuple(str(w) for w in self.vocab_words)
        n = len(self.channels)
        if n < 1:
            raise ValueError("channels must name at least one conv layer")
        if len(self.kernel_sizes) != n or len(self.dec_kernel_sizes) != n:
            raise ValueError(f"kernel_sizes and dec_kernel_sizes need {n} entries (one per layer)")
        if len(self.pool_sizes) != n - 1:
            raise ValueError(f"pool_sizes needs {n - 1} entries (one between each pair of layers)")
        if any(k % 2 == 0 for k in (*self.kernel_sizes, *self.dec_kernel_sizes, self.code_kernel)):
            raise ValueError("kernel sizes must be odd so that convolutions keep the map size")
        if any(p < 1 for p in self.pool_sizes):
            raise ValueError("pool sizes must be positive")
        if self.location_scale_init <= 0:
            raise ValueError("location_scale_init must be positive")
        for name, value in (("activation", self.activation), ("decoder_activation", self.decoder_activation)):
            if value != "none" and value not in ACTIVATIONS:
                raise ValueError(f"{name} must be 'none' or one of {sorted(ACTIVATIONS)}")
        choices = (("location_logits", self.location_logits, LOCATION_LOGITS), ("eval_pooling", self.eval_pooling, EVAL_POOLING),
                   ("display_unpool", self.display_unpool, DISPLAY_UNPOOL), ("rnn", self.rnn, RNNS),
                   ("pad_mode", self.pad_mode, PAD_MODES), ("label_head", self.label_head, LABEL_HEADS),
                   ("bsvm_multiclass", self.bsvm_multiclass, MULTICLASS))
        for name, value, allowed in choices:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.vocab_words and len(self.vocab_words) != self.vocab_size:
            raise ValueError(f"vocab_words has {len(self.vocab_words)} words but vocab_size is {self.vocab_size}")
        self.latent_dim = math.prod(self.code_shape)
        super().__post_init__()

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the code s: the top map's size after every pooling (each pads up, ceil)."""
        _, height, width = (int(s) for s in self.input_shape)
        for p in self.pool_sizes:
            height, width = blocks_shape(height, width, p)
        return (self.latent_channels or self.channels[-1], height, width)

    def to_dict(self) -> dict[str, Any]:
        """Every field but the vocabulary, which is saved as vocab.json."""
        values = super().to_dict()
        values.pop("vocab_words", None)
        return values
