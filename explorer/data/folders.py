"""Data sets read from a local folder: torchvision's MNIST, Fashion-MNIST, CIFAR-10 and Flowers102, or any
folder of images.

Nothing is downloaded unless `download=True` (the `--download` option); a missing or incomplete folder raises
DatasetNotFoundError naming the data set and the exact files expected.

- mnist, fashion-mnist: `<root>/MNIST/raw/train-images-idx3-ubyte` etc. (idx files; `.gz` copies are unpacked
  next to themselves), 1x28x28, Bernoulli likelihood.
- cifar10: `<root>/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta`, 3x32x32, Gaussian.
- flowers102: `<root>/flowers-102/jpg/image_00001.jpg..., imagelabels.mat, setid.mat`, resized to 64x64 by
  default, Gaussian; splits are the official "train" and "test" ones.
- folder: `root` holds images, either in one subfolder per class (labelled) or directly (unlabelled); split
  90% / 10% by a seeded permutation of the sorted files; resized to 64x64 by default, RGB or `grayscale`.

`root` may also point at the data set's own folder (e.g. `<root>/MNIST`): the loader then uses its parent.
"""

from __future__ import annotations

import gzip
import shutil
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.error import URLError

import numpy as np
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset, Subset
from torchvision.datasets import ImageFolder

from explorer.data.base import UNLABELLED, DataSplit, seeded_split
from explorer.data.factors import folder_factors
from explorer.files import atomic_write_with

SPLIT_SEED = 0
TEST_FRACTION = 0.1
DEFAULT_FOLDER_SIZE = 64  # images of varying size (flowers102, folder) are resized to this square
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".gif", ".tif", ".tiff", ".webp")
BACKGROUND = 255  # transparent pixels are composited over white

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
FLOWERS_FILES = ("jpg/image_00001.jpg ...", "imagelabels.mat", "setid.mat")


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are not where its loader looks for them."""


class LabelledItems(Dataset):
    """A torchvision data set whose items become (float image (C, H, W) in [0, 1], int label)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = self.dataset[index]
        return image.float(), int(label)


UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)  # what PIL raises for a bad file


def is_readable_image(path: str | Path) -> bool:
    """True when PIL recognises the file's header (cheap: the pixels are not decoded)."""
    try:
        with Image.open(path) as img:
            img.size  # noqa: B018
        return True
    except UNREADABLE:
        return False


class SkipUnreadable:
    """Mixin for folder data sets: an image that fails to decode when read is skipped (the next readable item
    is given in its place) and counted in `skipped`, so a long run goes on past a truncated file."""

    skipped: set[str]

    def _read_or_skip(self, index: int, read: Callable[[int], tuple[Tensor, int]], paths: Sequence[Any]) -> tuple[Tensor, int]:
        n = len(paths)
        for step in range(n):
            i = (index + step) % n
            try:
                return read(i)
            except UNREADABLE:
                self.skipped.add(str(paths[i][0] if isinstance(paths[i], tuple) else paths[i]))
        raise DatasetNotFoundError(f"none of the {n} images could be read")


class ImageFiles(SkipUnreadable, Dataset):
    """Unlabelled image files; items are (transformed image, UNLABELLED)."""

    def __init__(self, paths: Sequence[Path], transform: Callable[[Image.Image], Tensor], grayscale: bool = False):
        self.paths = list(paths)
        self.transform = transform
        self.grayscale = grayscale
        self.skipped = set()

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, index: int) -> tuple[Tensor, int]:
        return self.transform(load_image(self.paths[index], self.grayscale)), UNLABELLED

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self._read_or_skip(index, self._read, self.paths)


# ---------------------------------------------------------------------------------------------- images


def load_image(path: str | Path, grayscale: bool = False) -> Image.Image:
    """An image file as an 8-bit PIL image in mode "L" (grayscale) or "RGB", whatever its stored mode."""
    with Image.open(path) as img:
        img.load()
        return to_mode(img, grayscale)


def to_mode(img: Image.Image, grayscale: bool = False) -> Image.Image:
    """Convert any PIL image to 8-bit "L" or "RGB": EXIF rotation applied, 16-bit/float scaled, alpha flattened."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode.startswith("I") or img.mode == "F":
        img = _high_depth_to_l(img)
    elif img.mode in ("P", "PA", "LA", "La", "RGBa"):
        img = img.convert("RGBA")  # palettes may carry transparency; RGBA keeps it for flattening
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (BACKGROUND, BACKGROUND, BACKGROUND, 255))
        img = Image.alpha_composite(background, img).convert("RGB")
    return img.convert("L" if grayscale else "RGB")  # CMYK, "1", YCbCr convert directly


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer images are read as 16-bit (0..65535); float ones as [0, 1] (or 0..255 if larger)."""
    values = np.asarray(img, dtype=np.float64)  # (H, W)
    if img.mode == "F":
        scale = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
    else:
        scale = 65535.0
    return Image.fromarray(np.clip(np.round(values / scale * 255.0), 0, 255).astype(np.uint8), mode="L")


def _image_transform(image_size: int | None) -> Callable[[Image.Image], Tensor]:
    """ToTensor, after Resize((image_size, image_size)) when a size is given."""
    from torchvision import transforms as T

    steps: list[Any] = []
    if image_size:
        steps.append(T.Resize((image_size, image_size), antialias=True))
    steps.append(T.ToTensor())
    return T.Compose(steps)


# ---------------------------------------------------------------------------------------------- errors


def not_found(title: str, folder: Path | str, files: Sequence[str], missing: Sequence[str] = (),
               detail: str = "", downloadable: bool = True) -> DatasetNotFoundError:
    """The error for a data set whose files should be in `folder`."""
    msg = f"{title} data set not found: its files belong in {folder}/ ({', '.join(files)})"
    if not Path(folder).is_dir():
        msg += "; that folder does not exist"
    elif missing:
        msg += f"; missing: {', '.join(missing)}"
    if detail:
        msg += f"; {detail}"
    if downloadable:
        msg += ". Pass --download (download=True) to fetch it when online."
    return DatasetNotFoundError(msg)


def require_root(root: str | Path | None, title: str, layout: str, downloadable: bool = True) -> Path:
    """`root` as an absolute path; DatasetNotFoundError when none is given."""
    if root is None or str(root) == "":
        hint = " Pass --download with a data folder to fetch it when online." if downloadable else ""
        raise DatasetNotFoundError(f"{title} data set needs a data folder (root), none given: it expects {layout.rstrip('.')}.{hint}")
    return Path(root).expanduser().resolve()


def dataset_root(root: Path, subfolder: str) -> Path:
    """The folder that holds `subfolder`: `root` itself, or its parent when `root` is that subfolder."""
    if not (root / subfolder).exists() and root.name == subfolder:
        return root.parent
    return root


def construct(make: Callable[[], Dataset], error: Callable[[str], DatasetNotFoundError]) -> Dataset:
    """Build a torchvision data set, turning its "not found / corrupted / download failed" errors into ours."""
    try:
        return make()
    except (RuntimeError, URLError, OSError) as e:
        raise error(f"torchvision said: {e}") from e


# ---------------------------------------------------------------------------------------------- torchvision sets


def _gunzip(packed: Path, out: Path) -> None:
    with gzip.open(packed, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)


def _unpack_gz(folder: Path, names: Sequence[str]) -> None:
    """Unpack `name.gz` into `name` for every listed file that exists only compressed."""
    for name in names:
        plain, packed = folder / name, folder / f"{name}.gz"
        if not plain.exists() and packed.is_file():
            atomic_write_with(plain, partial(_gunzip, packed))


def _load_mnist_family(cls_name: str, name: str, title: str, root: str | None, download: bool,
                       image_size: int | None) -> DataSplit:
    """MNIST or Fashion-MNIST through torchvision: (1, 28, 28) or (1, S, S) images, Bernoulli likelihood."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    base = dataset_root(require_root(root, title, f"<root>/{cls_name}/raw/{MNIST_FILES[0]} etc."), cls_name)
    raw = base / cls_name / "raw"
    files = MNIST_FILES

    def error(detail: str = "", missing: Sequence[str] = ()) -> DatasetNotFoundError:
        return not_found(title, raw, files, missing, detail)

    legacy = all((base / cls_name / "processed" / f).is_file() for f in ("training.pt", "test.pt"))
    if not download and not legacy:
        try:
            _unpack_gz(raw, files)
        except (OSError, EOFError) as e:
            raise error(f"could not unpack the .gz files: {e}") from e
        missing = [f for f in files if not (raw / f).is_file()]
        if missing:
            raise error(missing=missing)
    transform = _image_transform(image_size if image_size and image_size != 28 else None)
    train = construct(lambda: cls(str(base), train=True, transform=transform, download=download), error)
    test = construct(lambda: cls(str(base), train=False, transform=transform, download=False), error)
    size = image_size or 28
    return DataSplit(
        name=name,
        train=LabelledItems(train),
        test=LabelledItems(test),
        image_shape=(1, size, size),
        likelihood="bernoulli",
        classes=list(cls.classes),
        description=f"{title} from {raw} ({len(train):,} train / {len(test):,} test, {size}x{size} grayscale)",
    )


def load_mnist(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """MNIST digits from `<root>/MNIST/raw/`."""
    return _load_mnist_family("MNIST", "mnist", "MNIST", root, download, image_size)


def load_fashion_mnist(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """Fashion-MNIST from `<root>/FashionMNIST/raw/`."""
    return _load_mnist_family("FashionMNIST", "fashion-mnist", "Fashion-MNIST", root, download, image_size)


def load_cifar10(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """CIFAR-10 from `<root>/cifar-10-batches-py/` (python pickle batches): (3, 32, 32), Gaussian likelihood."""
    from torchvision.datasets import CIFAR10

    sub = CIFAR10.base_folder  # "cifar-10-batches-py"
    base = dataset_root(require_root(root, "CIFAR-10", f"<root>/{sub}/data_batch_1 etc."), sub)
    folder = base / sub

    def error(detail: str = "", missing: Sequence[str] = ()) -> DatasetNotFoundError:
        return not_found("CIFAR-10", folder, CIFAR10_FILES, missing, detail)

    if not download:
        missing = [f for f in CIFAR10_FILES if not (folder / f).is_file()]
        if missing:
            raise error(missing=missing)
    transform = _image_transform(image_size if image_size and image_size != 32 else None)
    train = construct(lambda: CIFAR10(str(base), train=True, transform=transform, download=download), error)
    test = construct(lambda: CIFAR10(str(base), train=False, transform=transform, download=False), error)
    size = image_size or 32
    return DataSplit(
        name="cifar10",
        train=LabelledItems(train),
        test=LabelledItems(test),
        image_shape=(3, size, size),
        likelihood="gaussian",
        classes=list(train.classes),  # type: ignore[attr-defined]
        description=f"CIFAR-10 from {folder} ({len(train):,} train / {len(test):,} test, {size}x{size} RGB)",
    )


def load_flowers102(root: str | None = None, download: bool = False, image_size: int | None = None) -> DataSplit:
    """Oxford Flowers102 from `<root>/flowers-102/`, resized to image_size (64) square, Gaussian likelihood."""
    from torchvision.datasets import Flowers102

    sub = "flowers-102"
    base = dataset_root(require_root(root, "Flowers102", f"<root>/{sub}/jpg/, imagelabels.mat, setid.mat"), sub)
    folder = base / sub

    def error(detail: str = "", missing: Sequence[str] = ()) -> DatasetNotFoundError:
        return not_found("Flowers102", folder, FLOWERS_FILES, missing, detail)

    if not download:
        missing = [f for f in ("imagelabels.mat", "setid.mat") if not (folder / f).is_file()]
        jpg = folder / "jpg"
        if not jpg.is_dir() or not any(jpg.glob("image_*.jpg")):
            missing.insert(0, "jpg/image_*.jpg")
        if missing:
            raise error(missing=missing)
    size = image_size or DEFAULT_FOLDER_SIZE
    transform = _image_transform(size)
    train = construct(lambda: Flowers102(str(base), split="train", transform=transform, download=download), error)
    test = construct(lambda: Flowers102(str(base), split="test", transform=transform, download=False), error)
    classes = list(getattr(Flowers102, "classes", None) or [str(i) for i in range(102)])
    return DataSplit(
        name="flowers102",
        train=LabelledItems(train),
        test=LabelledItems(test),
        image_shape=(3, size, size),
        likelihood="gaussian",
        classes=classes,
        description=f"Oxford Flowers102 from {folder} ({len(train):,} train / {len(test):,} test, {size}x{size} RGB)",
    )


# ---------------------------------------------------------------------------------------------- image folder


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _is_image_file(path: str) -> bool:
    return _is_image(Path(path))


def _class_folders(root: Path) -> list[str]:
    """Sorted names of the visible subfolders of `root` that hold at least one image (at any depth)."""
    return sorted(
        d.name for d in root.iterdir()
        if d.is_dir() and not d.name.startswith(".") and any(_is_image(p) for p in d.rglob("*"))
    )


class ClassFolders(SkipUnreadable, ImageFolder):
    """torchvision's ImageFolder over the subfolders that hold images; items are (image, class index).
    Files whose header PIL does not recognise are left out (`unreadable`); see SkipUnreadable for the rest."""

    def __init__(self, root: str, transform: Callable[[Image.Image], Tensor], grayscale: bool = False):
        super().__init__(root, transform=transform, loader=partial(load_image, grayscale=grayscale),
                         is_valid_file=_is_image_file)
        self.unreadable = [p for p, _ in self.samples if not is_readable_image(p)]
        if self.unreadable:
            bad = set(self.unreadable)
            self.samples = [s for s in self.samples if s[0] not in bad]
            self.imgs, self.targets = self.samples, [t for _, t in self.samples]
        self.skipped = set()

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self._read_or_skip(index, super().__getitem__, self.samples)

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        """Classes: the sorted visible subfolders holding an image (empty ones would make ImageFolder fail)."""
        names = _class_folders(Path(directory))
        return names, {c: i for i, c in enumerate(names)}


def load_folder(root: str | None = None, download: bool = False, image_size: int | None = None,
                grayscale: bool = False) -> DataSplit:
    """Images in `root`: labelled by class subfolder if it has any, else unlabelled; seeded 90/10 split."""
    layout = "<root>/<class>/<image> (labelled) or <root>/<image> (unlabelled)"
    folder = require_root(root, "Image folder", layout, downloadable=False)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Image folder data set not found: {folder}/ does not exist; it expects {layout}")
    size = image_size or DEFAULT_FOLDER_SIZE
    transform = _image_transform(size)
    classes: list[str] | None = _class_folders(folder)
    if classes:
        full: Dataset = ClassFolders(str(folder), transform, grayscale)  # sorted by class, then path
        unreadable = list(full.unreadable)  # type: ignore[attr-defined]
    else:
        classes = None
        found = sorted(p for p in folder.iterdir() if _is_image(p))
        paths = [p for p in found if is_readable_image(p)]
        unreadable = [str(p) for p in found if p not in set(paths)]
        full = ImageFiles(paths, transform, grayscale)
    paths = [p for p, _ in full.samples] if classes else [str(p) for p in full.paths]  # type: ignore[attr-defined]
    factors = folder_factors(folder, paths, full, (1 if grayscale else 3, size, size))  # None without factors.csv
    n = len(full)  # type: ignore[arg-type]
    if n < 2:
        raise DatasetNotFoundError(
            f"Image folder data set not found: {folder}/ holds {n} image(s), at least 2 are needed "
            f"({', '.join(IMAGE_EXTENSIONS)}); it expects {layout}"
        )
    n_test = max(1, int(round(n * TEST_FRACTION)))
    train_idx, test_idx = seeded_split(n, n_test, SPLIT_SEED)
    channels = 1 if grayscale else 3
    kind = f"{len(classes)} classes" if classes else "unlabelled"
    return DataSplit(
        name="folder",
        train=Subset(full, train_idx.tolist()),
        test=Subset(full, test_idx.tolist()),
        image_shape=(channels, size, size),
        likelihood="bernoulli" if grayscale else "gaussian",
        classes=classes,
        description=(
            f"{n:,} images from {folder} ({kind}; {n - n_test:,} train / {n_test:,} test, seeded split), "
            f"{size}x{size} {'grayscale' if grayscale else 'RGB'}"
            + (f"; {len(unreadable):,} unreadable file(s) skipped" if unreadable else "")
        ),
        extras={"unreadable": unreadable, "dataset": full, **({"factors": factors} if factors is not None else {})},
    )


LOADERS: dict[str, Callable[..., DataSplit]] = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "flowers102": load_flowers102,
    "folder": load_folder,
}
