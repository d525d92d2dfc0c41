"""Captioned image data: the dataset class and batch collation shared by `shapes` and the folder loaders.

Items are (image float (C, H, W) in [0, 1], label int or UNLABELLED, caption ids (R, T) long or None).
`collate_captioned` pads a list of items into (images (B, C, H, W), labels (B,), captions (B, R, T),
caption counts (B,)); an uncaptioned image has count 0. `dataset.references(i)` gives image i's caption
strings for BLEU (None when it has none).

Folder loaders (no download; they say what is missing):
- "captions-csv": `root/captions.txt` (or any `captions_file`) with a header `image,caption` and one row per
  caption, as Flickr8k's captions.txt; images under `root/Images` (or `images_dir`, or root itself).
- "captions-coco": a COCO captions JSON (`annotations/captions_train2017.json` or `captions_file`) with
  "images" [{id, file_name}] and "annotations" [{image_id, caption}]; images under `images_dir`.
Images are centre-cropped to a square and resized to `image_size` (default 32) RGB.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from explorer.data.base import UNLABELLED, DataSplit, TensorImageDataset, seeded_split
from explorer.text import PAD_ID, Vocab, encode_references

DEFAULT_MAX_LEN = 24  # words + <eos>; longer captions are cut
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class CaptionedImageDataset(TensorImageDataset):
    """Images (N, C, H, W) with labels and reference captions, tokenised once with a fixed vocabulary."""

    def __init__(self, images: Tensor, labels: Tensor | None, captions: Sequence[Sequence[str] | None], vocab: Vocab,
                 max_len: int = DEFAULT_MAX_LEN, attributes: list[dict[str, Any]] | None = None):
        super().__init__(images, labels)
        if len(captions) != len(images):
            raise ValueError(f"{len(images)} images but {len(captions)} caption lists")
        self.captions = [list(c) if c else None for c in captions]
        self.vocab = vocab
        self.ids, self.counts = encode_references(vocab, self.captions, max_len)  # (N, R, T), (N,)
        self.attributes = attributes  # ground truth of each image's first-named object, when known

    def __getitem__(self, index: int) -> tuple[Tensor, int, Tensor | None]:
        image, label = super().__getitem__(index)
        n = int(self.counts[index])
        return image, label, (self.ids[index, :n] if n else None)

    def references(self, index: int) -> list[str] | None:
        """Image `index`'s caption strings (None when it has none)."""
        return self.captions[index]


def collate_captioned(items: list[tuple[Tensor, int, Tensor | None]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Stack images and labels; pad captions to (B, R, T) with <pad> and count each image's captions."""
    images = torch.stack([it[0] for it in items])
    labels = torch.tensor([int(it[1]) for it in items], dtype=torch.long)
    caps = [it[2] if len(it) > 2 else None for it in items]
    n_refs = max((c.shape[0] for c in caps if c is not None), default=1)
    length = max((c.shape[1] for c in caps if c is not None), default=1)
    out = torch.full((len(items), n_refs, length), PAD_ID, dtype=torch.long)
    counts = torch.zeros(len(items), dtype=torch.long)
    for i, c in enumerate(caps):
        if c is not None:
            out[i, : c.shape[0], : c.shape[1]] = c
            counts[i] = c.shape[0]
    return images, labels, out, counts


def keep_fraction(n: int, fraction: float, seed: int) -> Tensor:
    """(n,) bool: a seeded choice of round(fraction * n) items to keep."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"a fraction must lie in [0, 1], got {fraction}")
    keep = torch.zeros(n, dtype=torch.bool)
    keep[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: round(fraction * n)]] = True
    return keep


def make_captioned_split(
    name: str, images: Tensor, labels: Tensor | None, captions: list[list[str]], test_index: Tensor, train_index: Tensor,
    *, likelihood: str, classes: list[str] | None, description: str, seed: int = 0, labeled_fraction: float = 1.0,
    captioned_fraction: float = 1.0, max_len: int = DEFAULT_MAX_LEN, min_count: int = 1,
    attributes: list[dict[str, Any]] | None = None, extras: dict[str, Any] | None = None,
) -> DataSplit:
    """A DataSplit whose vocabulary comes from the training captions that are kept.

    `labeled_fraction` / `captioned_fraction` hide labels / captions of a seeded share of training images
    (semi-supervised training); the test split keeps everything.
    """
    n_train = len(train_index)
    labels = labels if labels is not None else torch.full((len(images),), UNLABELLED, dtype=torch.long)
    train_labels = labels[train_index].clone()
    train_labels[~keep_fraction(n_train, labeled_fraction, seed + 101)] = UNLABELLED
    has_caption = keep_fraction(n_train, captioned_fraction, seed + 202)
    train_caps = [captions[int(i)] if keep else None for i, keep in zip(train_index, has_caption)]
    vocab = Vocab.build((c for caps in train_caps if caps for c in caps), min_count=min_count)
    test_caps = [captions[int(i)] for i in test_index]
    pick = (lambda idx: [attributes[int(i)] for i in idx]) if attributes is not None else (lambda idx: None)
    train = CaptionedImageDataset(images[train_index], train_labels, train_caps, vocab, max_len, pick(train_index))
    test = CaptionedImageDataset(images[test_index], labels[test_index], test_caps, vocab, max_len, pick(test_index))
    return DataSplit(
        name=name, train=train, test=test, image_shape=tuple(images.shape[1:]), likelihood=likelihood, classes=classes,
        description=description, collate_fn=collate_captioned,
        extras={"vocab": vocab, "max_caption_len": max_len, **(extras or {})},
    )


# -- images from a folder ---------------------------------------------------------------------------
def _missing(what: str, root: Path | None, hint: str) -> FileNotFoundError:
    where = f" in {root}" if root is not None else ""
    return FileNotFoundError(f"{what} not found{where}. {hint}")


def _read_image(path: Path, size: int) -> np.ndarray:
    """RGB uint8 (3, size, size): centre-cropped to a square, then resized with antialiasing."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()


def _find_images_dir(root: Path, images_dir: str | None, names: list[str]) -> Path:
    candidates = [root / images_dir] if images_dir else [root / "Images", root / "images", root / "Flicker8k_Dataset",
                                                         root / "train2017", root / "val2017", root]
    for folder in candidates:
        if folder.is_dir() and names and (folder / names[0]).is_file():
            return folder
    raise _missing(f"image file {names[0] if names else '?'}", root,
                   f"Put the images under {root}/Images (or pass images_dir=...).")


def _folder_split(name: str, root: Path, pairs: dict[str, list[str]], images_dir: str | None, image_size: int,
                  test_fraction: float, seed: int, max_images: int | None, description: str, **options: Any) -> DataSplit:
    names = sorted(pairs)
    if max_images:
        names = names[:max_images]
    if len(names) < 2:
        raise ValueError(f"{root}: need at least 2 captioned images, found {len(names)}")
    folder = _find_images_dir(root, images_dir, names)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise _missing(f"{len(missing)} image file(s) named in the captions file, e.g. {missing[0]},", folder,
                       "Check images_dir and that every image of the captions file is present.")
    images = torch.from_numpy(np.stack([_read_image(folder / n, image_size) for n in names]))
    n_test = max(1, round(test_fraction * len(names)))
    train_idx, test_idx = seeded_split(len(names), n_test, seed)
    return make_captioned_split(
        name, images, None, [pairs[n] for n in names], test_idx, train_idx, likelihood="gaussian", classes=None,
        description=f"{description}: {len(names)} images at {image_size}x{image_size} from {root}", seed=seed,
        **{k: v for k, v in options.items() if k in ("captioned_fraction", "max_len", "min_count")},
    )


def read_captions_csv(path: Path) -> dict[str, list[str]]:
    """{image file name: [captions]} from a CSV with a header naming `image` and `caption` columns.

    A caption that contains unquoted commas (Flickr8k's captions.txt has some) is rejoined.
    """
    pairs: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = [h.strip().lower() for h in next(rows, [])]
        if "image" not in header or "caption" not in header:
            raise ValueError(f"{path}: the first row must name the columns 'image' and 'caption', got {header}")
        i_img, i_cap = header.index("image"), header.index("caption")
        for row in rows:
            if not row:
                continue
            image = row[i_img].strip()
            caption = ",".join(row[i_cap:]) if i_cap == len(header) - 1 else row[i_cap]
            if image and caption.strip():
                pairs.setdefault(image, []).append(caption.strip())
    return pairs


def load_captions_csv(root: str | None = None, download: bool = False, captions_file: str = "captions.txt",
                      images_dir: str | None = None, image_size: int | None = None, test_fraction: float = 0.1,
                      seed: int = 0, max_images: int | None = None, **options: Any) -> DataSplit:
    """Images with a CSV `image,caption` file (Flickr8k layout). See the module docstring."""
    if download:
        raise ValueError("captions-csv cannot download: put the images and captions.txt (image,caption) in a folder "
                         "and pass it as root / --data-root")
    if root is None:
        raise ValueError("captions-csv needs root (--data-root): a folder with captions.txt and an Images/ folder")
    base = Path(root).expanduser()
    path = base / captions_file
    if not path.is_file():
        raise _missing(captions_file, base, "Expected a CSV with header 'image,caption' (Flickr8k's captions.txt); "
                       "pass captions_file=... if it has another name.")
    return _folder_split("captions-csv", base, read_captions_csv(path), images_dir, image_size or 32, test_fraction, seed,
                         max_images, "captioned images (CSV)", **options)


def read_coco_captions(path: Path) -> dict[str, list[str]]:
    """{image file name: [captions]} from a COCO captions JSON."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    try:
        files = {int(im["id"]): im["file_name"] for im in payload["images"]}
        pairs: dict[str, list[str]] = {}
        for ann in payload["annotations"]:
            pairs.setdefault(files[int(ann["image_id"])], []).append(str(ann["caption"]).strip())
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a COCO captions file: it needs 'images' [{{id, file_name}}] and "
                         f"'annotations' [{{image_id, caption}}] ({exc!r})") from None
    return pairs


def load_captions_coco(root: str | None = None, download: bool = False, captions_file: str | None = None,
                       images_dir: str | None = None, image_size: int | None = None, test_fraction: float = 0.1,
                       seed: int = 0, max_images: int | None = None, **options: Any) -> DataSplit:
    """Images with a COCO-style captions JSON. See the module docstring."""
    if download:
        raise ValueError("captions-coco cannot download: put the images and the captions JSON in a folder and pass it as root")
    if root is None:
        raise ValueError("captions-coco needs root (--data-root): a folder with a COCO captions JSON and the images")
    base = Path(root).expanduser()
    candidates = [base / captions_file] if captions_file else [
        base / "annotations" / "captions_train2017.json", base / "annotations" / "captions_val2017.json",
        base / "captions.json", *sorted(base.glob("captions*.json")), *sorted(base.glob("annotations/captions*.json"))]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise _missing("a COCO captions JSON", base, "Expected annotations/captions_train2017.json or captions.json; "
                       "pass captions_file=... for another name.")
    return _folder_split("captions-coco", base, read_coco_captions(path), images_dir, image_size or 32, test_fraction, seed,
                         max_images, "captioned images (COCO JSON)", **options)


LOADERS = {"captions-csv": load_captions_csv, "captions-coco": load_captions_coco}
