"""Data sets by name. `load_dataset(name, ...)` returns a DataSplit; nothing loads at import time."""

from __future__ import annotations

from typing import Any, Callable

from explorer.data.base import UNLABELLED, DataSplit, TensorImageDataset, stack_images
from explorer.data.transforms import binarize, dequantize, fixed_binarization

EMBEDDED = ("mnist5k", "digits", "patches", "shapes")
FROM_FOLDER = ("mnist", "fashion-mnist", "cifar10", "flowers102", "folder", "captions-csv", "captions-coco")


def _loaders() -> dict[str, Callable[..., DataSplit]]:
    from explorer.data import embedded

    loaders: dict[str, Callable[..., DataSplit]] = {
        "mnist5k": lambda **kw: embedded.load_mnist5k(),
        "digits": lambda image_size=None, **kw: embedded.load_digits(image_size),
        "patches": lambda **kw: embedded.load_patches(),
    }
    try:
        from explorer.data import folders

        loaders.update(folders.LOADERS)
    except ImportError:  # pragma: no cover
        pass
    try:
        from explorer.data import shapes, captions

        loaders["shapes"] = shapes.load_shapes
        loaders.update(captions.LOADERS)
    except ImportError:  # pragma: no cover
        pass
    return loaders


def available_datasets() -> list[str]:
    return sorted(_loaders())


def load_dataset(name: str, root: str | None = None, download: bool = False, **options: Any) -> DataSplit:
    """Load a data set by name. Folder-based sets read `root` (and may `download` when online)."""
    loaders = _loaders()
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; known: {sorted(loaders)}")
    return loaders[name](root=root, download=download, **options)


__all__ = [
    "UNLABELLED",
    "DataSplit",
    "TensorImageDataset",
    "available_datasets",
    "binarize",
    "dequantize",
    "fixed_binarization",
    "load_dataset",
    "stack_images",
]
