"""Tiny seeded data for tests (imported by name; conftest modules cannot be imported reliably)."""

from __future__ import annotations

import torch

from explorer.data.base import DataSplit, TensorImageDataset


def make_split(n_train: int = 64, n_test: int = 24, shape=(1, 8, 8), likelihood: str = "bernoulli", seed: int = 0) -> DataSplit:
    """Random-blob images with labels: enough structure for a model to learn something quickly."""
    gen = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    images = (torch.rand(n, *shape, generator=gen) * 255).to(torch.uint8)
    labels = torch.randint(0, 3, (n,), generator=gen)
    return DataSplit(
        name="tiny", train=TensorImageDataset(images[:n_train], labels[:n_train]),
        test=TensorImageDataset(images[n_train:], labels[n_train:]), image_shape=shape, likelihood=likelihood,
        classes=["a", "b", "c"], description="tiny random test data",
    )
