"""CelebA through torchvision's own `CelebA` class: the aligned crops, centre-cropped and resized to 64x64,
with the 40 binary attributes as an attribute table (`attributes` (N, 40) 0/1, `attribute_names`).

Files (as torchvision reads them), under `<root>/celeba/` (or `root` itself when it is that folder)::

    img_align_celeba/000001.jpg ...   list_attr_celeba.txt   list_eval_partition.txt
    identity_CelebA.txt   list_bbox_celeba.txt   list_landmarks_align_celeba.txt

Splits: the official "train" and "test" partitions ("valid" is not used). Items are (image (3, 64, 64) float
in [0, 1], UNLABELLED): there is no single class; the attributes are the labels of this data set, read by
`explorer.analysis.encode_dataset` and `explorer.latent.attribute_axes`. Gaussian likelihood.
"""

from __future__ import annotations


import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from explorer.data.base import UNLABELLED, DataSplit
from explorer.data.factors import table_from_dataset
from explorer.data.folders import construct, dataset_root, not_found, require_root

SUBFOLDER = "celeba"
IMAGES = "img_align_celeba"
TEXT_FILES = ("list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt", "list_bbox_celeba.txt",
              "list_landmarks_align_celeba.txt")
FILES = (f"{IMAGES}/000001.jpg ...", *TEXT_FILES)
DEFAULT_SIZE = 64
CROP_SHARE = 148 / 178  # the usual CelebA face crop: the central 148 px square of the 178 px wide aligned image


def celeba_transform(size: int = DEFAULT_SIZE):
    """PIL image -> (3, size, size) float: centre-cropped to the central face square, resized, ToTensor."""
    from torchvision import transforms as T

    def crop(img: Image.Image) -> Image.Image:
        side = max(1, round(min(img.size) * CROP_SHARE))
        return T.functional.center_crop(img.convert("RGB"), [side, side])

    return T.Compose([T.Lambda(crop), T.Resize((size, size), antialias=True), T.ToTensor()])


class CelebAItems(Dataset):
    """torchvision's CelebA split as (image, UNLABELLED) items with its attribute table beside them."""

    def __init__(self, celeba: Dataset):
        self.celeba = celeba
        self.attributes: Tensor = celeba.attr.to(torch.uint8)  # type: ignore[attr-defined]  (N, 40) 0/1
        self.attribute_names: list[str] = [n for n in celeba.attr_names if n][: self.attributes.shape[1]]  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.celeba)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, _ = self.celeba[index]
        return image.float(), UNLABELLED


def load_celeba(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """CelebA from `<root>/celeba/` (see the module docstring), resized to image_size (64) square."""
    from torchvision.datasets import CelebA

    layout = f"<root>/{SUBFOLDER}/{IMAGES}/*.jpg and the five list files"
    base = dataset_root(require_root(root, "CelebA", layout), SUBFOLDER)
    folder = base / SUBFOLDER

    def error(detail: str = "", missing: tuple[str, ...] | list[str] = ()) -> Exception:
        return not_found("CelebA", folder, FILES, missing, detail)

    if not download:
        missing = [f for f in TEXT_FILES if not (folder / f).is_file()]
        images = folder / IMAGES
        if not images.is_dir() or not any(images.glob("*.jpg")):
            missing.insert(0, f"{IMAGES}/*.jpg")
        if missing:
            raise error(missing=missing)
    size = image_size or DEFAULT_SIZE
    transform = celeba_transform(size)
    train = construct(lambda: CelebA(str(base), split="train", target_type=[], transform=transform,
                                      download=download), error)
    test = construct(lambda: CelebA(str(base), split="test", target_type=[], transform=transform), error)
    train_items, test_items = CelebAItems(train), CelebAItems(test)
    held = test_items if len(test_items) else train_items  # the metrics read held-out faces where there are any
    factors = table_from_dataset("celeba", tuple(held.attribute_names), held.attributes.numpy(), held,
                                 (3, size, size), factor_sizes=(2,) * len(held.attribute_names))
    return DataSplit(
        name="celeba", train=train_items, test=test_items, image_shape=(3, size, size), likelihood="gaussian",
        classes=None,
        description=(f"CelebA aligned faces from {folder} ({len(train_items):,} train / {len(test_items):,} test, "
                     f"centre-cropped to {size}x{size} RGB, 40 attributes)"),
        extras={"attribute_names": train_items.attribute_names, "factors": factors},
    )
