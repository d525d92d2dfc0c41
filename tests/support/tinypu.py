"""A tiny 'pu' model and batch for the pu tests and the caption metrics' tests: seconds on a CPU."""

import torch

from explorer.models import build_model
from explorer.text import EOS_ID, PAD_ID

WORDS = ["<pad>", "<eos>", "<unk>", "a", "red", "blue", "circle", "square", "in", "the", "top", "left"]


def tiny_model(**kw):
    values = dict(input_shape=(3, 10, 11), channels=(3, 4), kernel_sizes=(3, 3), pool_sizes=(3,), dec_kernel_sizes=(3, 3),
                  class_names=("circle", "square", "triangle"), vocab_size=len(WORDS), vocab_words=WORDS, embed_dim=8,
                  hidden_dim=16, code_feed_dim=8, max_caption_len=7, eval_draws=3)
    values.update(kw)
    return build_model("pu", **values)


def tiny_batch(b=4, shape=(3, 10, 11), seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(b, *shape, generator=gen).round()
    labels = torch.tensor([0, -1, 2, 1][:b])
    captions = torch.randint(3, len(WORDS), (b, 2, 6), generator=gen)
    captions[:, :, 4] = EOS_ID
    captions[:, :, 5] = PAD_ID
    counts = torch.tensor([2, 1, 0, 2][:b])
    return x, labels, captions, counts
