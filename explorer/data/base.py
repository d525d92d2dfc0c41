"""What every data set looks like to the trainer, the evaluator and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset

UNLABELLED = -1  # label of an item without one


class TensorImageDataset(Dataset):
    """Images held in memory as one tensor (N, C, H, W), uint8 (0..255) or float in [0, 1], with int labels.

    Items are (image float32 (C, H, W) in [0, 1], label int), like torchvision's data sets after ToTensor.
    """

    def __init__(self, images: Tensor, labels: Tensor | None = None):
        if images.dim() != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        self.images = images
        self.labels = labels.long() if labels is not None else torch.full((len(images),), UNLABELLED, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return to_float(self.images[index]), int(self.labels[index])

    def all_images(self) -> Tensor:
        """Every image as float (N, C, H, W) in [0, 1]."""
        return to_float(self.images)


def to_float(images: Tensor) -> Tensor:
    return images.float().div(255.0) if images.dtype == torch.uint8 else images.float()


@dataclass
class DataSplit:
    """A data set's train and test splits and what a model needs to know about them."""

    name: str
    train: Dataset  # items (image (C, H, W) float in [0, 1], label int or UNLABELLED, ...)
    test: Dataset
    image_shape: tuple[int, int, int]  # (C, H, W)
    likelihood: str  # the default output likelihood for this data: "bernoulli" or "gaussian"
    classes: list[str] | None = None  # label names, None for unlabelled data
    description: str = ""
    collate_fn: Callable[[list[Any]], Any] | None = None  # for items that need padding (captions)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. a caption vocabulary


def stack_images(dataset: Dataset, limit: int | None = None) -> tuple[Tensor, Tensor]:
    """All (or the first `limit`) images and labels of a data set as tensors (N, C, H, W), (N,)."""
    if isinstance(dataset, TensorImageDataset):
        n = len(dataset) if limit is None else min(limit, len(dataset))
        return to_float(dataset.images[:n]), dataset.labels[:n]
    n = len(dataset) if limit is None else min(limit, len(dataset))
    items = [dataset[i] for i in range(n)]
    images = torch.stack([item[0] for item in items])
    labels = torch.tensor([int(item[1]) if len(item) > 1 and item[1] is not None else UNLABELLED for item in items])
    return images, labels


def seeded_split(n: int, n_test: int, seed: int) -> tuple[Tensor, Tensor]:
    """A fixed permutation split: (train indices, test indices)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_test:], perm[:n_test]
