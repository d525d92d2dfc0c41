"""`photos`: 64 px RGB crops of the colour photographs that scikit-image and scikit-learn ship (no download).

Photographs (name: source, size H x W):
    astronaut (skimage, 512 x 512), rocket (skimage, 427 x 640), hubble_deep_field (skimage, 872 x 1000),
    immunohistochemistry (skimage, 512 x 512), retina (skimage, 1411 x 1411), motorcycle (skimage's
    stereo_motorcycle, left view, 500 x 741), china (sklearn, 427 x 640)   -> training crops
    chelsea (skimage, 300 x 451), coffee (skimage, 400 x 600), flower (sklearn, 427 x 640)  -> held out (test)

Whole photographs are held out (`HELD_OUT`), so no test pixel is ever seen in training. Training items are crops
of `crop` px at random positions, at full size or halved (antialiased), flipped left-right half the time; item i's
crop is a function of (seed, i) alone, so an epoch of `n_items` crops is the same in every run and every process.
The test split is every non-overlapping `crop` px tile of the held-out photographs at full size (row-major, top
left first); `extras["held_out_photos"]` gives the whole held-out photographs, uint8 (3, H, W), by name.

Items are (image float32 (3, crop, crop) in [0, 1], UNLABELLED). The likelihood is Gaussian (8-bit photographs).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from explorer.data.base import UNLABELLED, DataSplit, TensorImageDataset

TRAIN_PHOTOS = ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle", "china")
HELD_OUT = ("chelsea", "coffee", "flower")
PHOTOS = TRAIN_PHOTOS + HELD_OUT
SCALES = (1, 2)  # training crops come from the photo at full size and halved
DEFAULT_CROP = 64
# the largest crop: every training photo is at least 427 px a side at full size (and its halved copy is used only
# where it is at least the crop); a distilled student's frames reach 384 px (explorer.preview.distill)
MAX_CROP = 427
DEFAULT_ITEMS = 1024


def _read_photo(name: str) -> np.ndarray:
    """One shipped photograph as uint8 (H, W, 3), from the package files (skimage's fetch never goes online for
    these: they are part of its wheel)."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]  # the left view; the right one is nearly the same picture
    return getattr(data, name)()


@lru_cache(maxsize=None)
def load_photo(name: str) -> Tensor:
    """A shipped photograph by name (see PHOTOS) as uint8 (3, H, W)."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; the photos data set has {list(PHOTOS)}")
    image = _read_photo(name)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"photo {name!r} is not an 8-bit RGB image (shape {image.shape}, {image.dtype})")
    return torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).contiguous()


def _halved(photo: Tensor) -> Tensor:
    """uint8 (3, H, W) -> uint8 (3, H // 2, W // 2), antialiased (2 x 2 mean)."""
    h, w = photo.shape[1] // 2 * 2, photo.shape[2] // 2 * 2
    mean = photo[:, :h, :w].float().view(3, h // 2, 2, w // 2, 2).mean((2, 4))
    return mean.round().clamp(0, 255).to(torch.uint8)


class PhotoCrops(Dataset):
    """n_items crops (3, crop, crop) of the given photographs at SCALES; item i is drawn from (seed, i):
    a (photo, scale) pair uniformly, a position uniformly inside it, and a left-right flip with probability 1/2."""

    def __init__(self, names: tuple[str, ...], n_items: int, crop: int, seed: int):
        self.names = names
        self.crop = crop
        self.seed = seed
        self.n_items = n_items
        self.sources: list[tuple[str, int, Tensor]] = []  # (photo, scale, uint8 (3, H, W))
        for name in names:
            photo = load_photo(name)
            for scale in SCALES:
                image = photo if scale == 1 else _halved(photo)
                if min(image.shape[1:]) >= crop:
                    self.sources.append((name, scale, image))

    def __len__(self) -> int:
        return self.n_items

    def locate(self, index: int) -> tuple[str, int, int, int, bool]:
        """Where item `index` comes from: (photo name, scale, top, left, flipped), in the scaled photo's pixels."""
        rng = np.random.default_rng([self.seed, index])
        name, scale, image = self.sources[int(rng.integers(len(self.sources)))]
        top = int(rng.integers(image.shape[1] - self.crop + 1))
        left = int(rng.integers(image.shape[2] - self.crop + 1))
        return name, scale, top, left, bool(rng.random() < 0.5)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        if not 0 <= index < self.n_items:
            raise IndexError(f"item {index} of {self.n_items}")
        name, scale, top, left, flipped = self.locate(index)
        image = next(img for n, s, img in self.sources if n == name and s == scale)
        patch = image[:, top:top + self.crop, left:left + self.crop]
        if flipped:
            patch = patch.flip(2)
        return patch.float().div(255.0), UNLABELLED


def tiles(photo: Tensor, size: int) -> Tensor:
    """Every non-overlapping size x size tile of a photo (C, H, W), row-major: (N, C, size, size)."""
    c, h, w = photo.shape
    rows, cols = h // size, w // size
    cut = photo[:, :rows * size, :cols * size]
    return cut.reshape(c, rows, size, cols, size).permute(1, 3, 0, 2, 4).reshape(rows * cols, c, size, size)


def load_photos(root: str | None = None, download: bool = False, image_size: int | None = None,
                n_items: int | None = None, seed: int = 0) -> DataSplit:
    """The photos data set: `n_items` training crops of `image_size` px (default 64) from TRAIN_PHOTOS and the
    tiles of the held-out HELD_OUT photographs as the test split (n_items None: DEFAULT_ITEMS). root and download are not used (the photographs
    come with scikit-image and scikit-learn)."""
    crop = DEFAULT_CROP if image_size is None else image_size
    n_items = DEFAULT_ITEMS if n_items is None else n_items
    if isinstance(crop, bool) or not isinstance(crop, int) or not 8 <= crop <= MAX_CROP:
        raise ValueError(f"photos: image_size (the crop size) must be an integer from 8 to {MAX_CROP}, got {crop!r}")
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise ValueError(f"photos: n_items must be a positive integer, got {n_items!r}")
    held_out = {name: load_photo(name) for name in HELD_OUT}
    test = TensorImageDataset(torch.cat([tiles(photo, crop) for photo in held_out.values()]))
    train = PhotoCrops(TRAIN_PHOTOS, n_items, crop, seed)
    return DataSplit(
        "photos", train, test, (3, crop, crop), "gaussian",
        description=(f"photos: {n_items:,} random {crop} px crops (seed {seed}, full size or halved, flipped) of "
                     f"{len(TRAIN_PHOTOS)} photographs shipped with scikit-image / scikit-learn "
                     f"({', '.join(TRAIN_PHOTOS)}); test: the {len(test)} {crop} px tiles of the held-out "
                     f"photographs {', '.join(HELD_OUT)}"),
        extras={"held_out_photos": held_out, "train_photos": TRAIN_PHOTOS},
    )


__all__ = ["HELD_OUT", "PHOTOS", "TRAIN_PHOTOS", "PhotoCrops", "load_photo", "load_photos", "tiles"]
