"""Data sets by name. `load_dataset(name, ...)` returns a DataSplit; nothing loads at import time.

Loader modules are imported only when their data set is asked for: the folder loaders pull in torchvision
(seconds of import time) that the embedded sets never need.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from explorer.data.base import UNLABELLED, DataSplit, TensorImageDataset, stack_images
from explorer.data.transforms import binarize, dequantize, fixed_binarization

# name -> (module, function); the function takes (root=None, download=False, **options)
_LOADERS: dict[str, tuple[str, str]] = {
    "mnist5k": ("explorer.data.embedded", "load_mnist5k"),
    "digits": ("explorer.data.embedded", "load_digits"),
    "patches": ("explorer.data.embedded", "load_patches"),
    "shapes": ("explorer.data.shapes", "load_shapes"),
    "dsprites": ("explorer.data.dsprites", "load_dsprites"),
    "dsprites-colour": ("explorer.data.dsprites", "load_dsprites_colour"),
    "photos": ("explorer.data.photos", "load_photos"),
    "mnist": ("explorer.data.folders", "load_mnist"),
    "fashion-mnist": ("explorer.data.folders", "load_fashion_mnist"),
    "cifar10": ("explorer.data.folders", "load_cifar10"),
    "flowers102": ("explorer.data.folders", "load_flowers102"),
    "folder": ("explorer.data.folders", "load_folder"),
    "celeba": ("explorer.data.celeba", "load_celeba"),
    "captions-csv": ("explorer.data.captions", "load_captions_csv"),
    "captions-coco": ("explorer.data.captions", "load_captions_coco"),
}
EMBEDDED = ("mnist5k", "digits", "patches", "shapes", "photos")  # ui/app/dataviews.py keeps a torch-free copy


def available_datasets() -> list[str]:
    return sorted(_LOADERS)


def load_dataset(name: str, root: str | None = None, download: bool = False, **options: Any) -> DataSplit:
    """Load a data set by name. Folder-based sets read `root` (and may `download` when online)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {available_datasets()}")
    loader = _loader(name)
    check_options(name, options)
    return loader(root=root, download=download, **options)


def _loader(name: str) -> Any:
    module, function = _LOADERS[name]
    return getattr(importlib.import_module(module), function)


def loader_options(name: str) -> list[str]:
    """The options data set `name`'s loader takes (besides root and download)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {available_datasets()}")
    params = inspect.signature(_loader(name)).parameters.values()
    return [p.name for p in params if p.name not in ("root", "download") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def check_options(name: str, options: dict[str, Any]) -> None:
    """Refuse loader options that data set `name` does not take, naming them and the ones it does take (a typo in
    --set or in a loader option must not vanish silently)."""
    accepted = loader_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise ValueError(f"data set {name!r} has no option {', '.join(map(repr, unknown))}; it takes: {takes}")


__all__ = [
    "UNLABELLED",
    "DataSplit",
    "TensorImageDataset",
    "available_datasets",
    "binarize",
    "check_options",
    "loader_options",
    "dequantize",
    "fixed_binarization",
    "load_dataset",
    "stack_images",
]
