"""The colour photographs that installed packages ship (no download): scikit-image's and scikit-learn's."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

# skimage.data photographs stored inside the scikit-image wheel (others need pooch and a download)
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


@lru_cache(maxsize=1)
def _photos() -> tuple[tuple[str, np.ndarray], ...]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    found = [(name, getattr(skimage.data, name)()) for name in SKIMAGE_PHOTOS]
    bunch = load_sample_images()
    found += [(path.rsplit("/", 1)[-1].split(".")[0], image) for path, image in zip(bunch.filenames, bunch.images)]
    return tuple((name, np.array(image[..., :3], dtype=np.uint8, copy=True)) for name, image in found)


def bundled_photographs() -> list[tuple[str, Tensor]]:
    """(name, image (3, H, W) float32 in [0, 1]) for each bundled colour photograph (7, of 300 to 640 px)."""
    return [(name, torch.from_numpy(image).permute(2, 0, 1).float() / 255.0) for name, image in _photos()]
