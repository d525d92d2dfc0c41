"""Folder-based loaders on tiny files written in each data set's own on-disk format; fully offline."""

from __future__ import annotations

import gzip
import pickle
import re
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from PIL import Image
from scipy.io import savemat

from explorer.data import load_dataset
from explorer.data.base import UNLABELLED, DataSplit
from explorer.data.folders import LOADERS, DatasetNotFoundError, load_image

N_TRAIN, N_TEST = 6, 4


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails as it would offline."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("offline (tests)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def all_items(split: DataSplit) -> tuple[torch.Tensor, list[int], torch.Tensor, list[int]]:
    """Every train and test item: images (N, C, H, W) and labels of each split."""
    out = []
    for ds in (split.train, split.test):
        items = [ds[i] for i in range(len(ds))]
        for image, label in items:
            assert isinstance(image, torch.Tensor) and image.dtype == torch.float32
            assert type(label) is int
        out += [torch.stack([im for im, _ in items]), [lb for _, lb in items]]
    return tuple(out)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- MNIST family


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte array in the idx format (magic 0x08 type, ndim, big-endian int32 dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root: Path, cls_name: str, compress: bool) -> dict[str, np.ndarray]:
    """Tiny MNIST-format idx files in root/cls_name/raw (gzipped only, or plain)."""
    raw = root / cls_name / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(N_TRAIN) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(N_TEST) + 3) % 10,
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize(
    "name, cls_name, compress", [("mnist", "MNIST", False), ("fashion-mnist", "FashionMNIST", True)]
)
def test_mnist_family_reads_idx_files(tmp_path: Path, name: str, cls_name: str, compress: bool) -> None:
    arrays = write_mnist(tmp_path, cls_name, compress)
    split = LOADERS[name](root=str(tmp_path))
    assert (split.name, split.image_shape, split.likelihood) == (name, (1, 28, 28), "bernoulli")
    assert split.classes == list(getattr(tvd, cls_name).classes) and len(split.classes) == 10
    train_x, train_y, test_x, test_y = all_items(split)
    assert train_x.shape == (N_TRAIN, 1, 28, 28) and test_x.shape == (N_TEST, 1, 28, 28)
    assert train_x.min() >= 0 and train_x.max() <= 1
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float().div(255).unsqueeze(1)
    assert torch.allclose(train_x, expected)
    assert train_y == arrays["train-labels-idx1-ubyte"].tolist()
    assert test_y == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_mnist_resize_and_dataset_folder_as_root(tmp_path: Path) -> None:
    write_mnist(tmp_path, "MNIST", compress=False)
    split = load_dataset("mnist", root=str(tmp_path / "MNIST"), image_size=14)  # root = the data set's folder
    assert split.image_shape == (1, 14, 14)
    assert split.train[0][0].shape == (1, 14, 14)


def test_mnist_download_fails_offline_with_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(tmp_path.resolve() / "MNIST" / "raw"))):
        LOADERS["mnist"](root=str(tmp_path), download=True)


# ---------------------------------------------------------------------------------------------- CIFAR-10

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(root: Path) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Tiny CIFAR-10 python batches: rows of 3072 bytes (R plane, G plane, B plane), labels lists."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        labels = [(2 * i) % 10, (2 * i + 1) % 10]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels}, f)
        batches[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_vis": 3072}, f)
    return batches


def test_cifar10_reads_python_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = write_cifar10(tmp_path)
    # the files are ours, not the real ones: skip torchvision's MD5 checks (batches and meta)
    monkeypatch.setattr(tvd.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tvd.cifar, "check_integrity", lambda *args, **kwargs: True)
    split = LOADERS["cifar10"](root=str(tmp_path))
    assert (split.image_shape, split.likelihood, split.classes) == ((3, 32, 32), "gaussian", CIFAR_CLASSES)
    train_x, train_y, test_x, test_y = all_items(split)
    assert train_x.shape == (10, 3, 32, 32) and test_x.shape == (2, 3, 32, 32)
    assert train_x.min() >= 0 and train_x.max() <= 1
    assert train_y == [label for k in range(1, 6) for label in batches[f"data_batch_{k}"][1]]
    data, labels = batches["test_batch"]
    assert test_y == labels
    assert torch.allclose(test_x, torch.from_numpy(data).reshape(2, 3, 32, 32).float() / 255)


def test_cifar10_corrupted_files_raise_not_found(tmp_path: Path) -> None:
    write_cifar10(tmp_path)  # MD5 sums do not match the real files: torchvision refuses them
    with pytest.raises(DatasetNotFoundError, match="corrupted"):
        LOADERS["cifar10"](root=str(tmp_path))


# ---------------------------------------------------------------------------------------------- Flowers102


def write_flowers(root: Path) -> None:
    """Six tiny JPEGs of varying size, 1-based labels and the train/val/test id lists (.mat)."""
    folder = root / "flowers-102"
    (folder / "jpg").mkdir(parents=True)
    for i in range(1, 7):
        colour = (40 * i, 255 - 40 * i, 128)
        Image.new("RGB", (12 + 2 * i, 10 + i), colour).save(folder / "jpg" / f"image_{i:05d}.jpg")
    Image.new("L", (9, 9), 200).save(folder / "jpg" / "image_00006.jpg")  # a grayscale JPEG too
    savemat(folder / "imagelabels.mat", {"labels": np.array([[1, 2, 3, 1, 102, 5]])})
    savemat(folder / "setid.mat", {"trnid": np.array([[1, 2, 3]]), "valid": np.array([[4, 5]]),
                                   "tstid": np.array([[5, 6]])})


def test_flowers102_reads_jpgs_and_mat_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_flowers(tmp_path)
    monkeypatch.setattr(tvd.Flowers102, "_check_integrity", lambda self: True)
    split = LOADERS["flowers102"](root=str(tmp_path), image_size=16)
    assert (split.image_shape, split.likelihood, len(split.classes)) == ((3, 16, 16), "gaussian", 102)
    train_x, train_y, test_x, test_y = all_items(split)
    assert train_x.shape == (3, 3, 16, 16) and test_x.shape == (2, 3, 16, 16)
    assert train_x.min() >= 0 and train_x.max() <= 1
    assert train_y == [0, 1, 2] and test_y == [101, 4]
    assert LOADERS["flowers102"](root=str(tmp_path)).image_shape == (3, 64, 64)  # the default size


# ---------------------------------------------------------------------------------------------- image folders


def write_formats(folder: Path) -> dict[str, Path]:
    """One 6x4 image in each awkward format, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / name for k, name in [
        ("rgb", "a_rgb.png"), ("jpeg", "b.jpg"), ("rgba", "c_rgba.png"), ("palette", "d_palette.png"),
        ("grey16", "e_grey16.png"), ("cmyk", "f_cmyk.jpg"),
    ]}
    Image.new("RGB", (6, 4), (255, 0, 0)).save(paths["rgb"])
    Image.new("RGB", (6, 4), (0, 0, 255)).save(paths["jpeg"], quality=95)
    rgba = Image.new("RGBA", (6, 4), (0, 0, 0, 0))  # transparent black: flattens to white
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    rgba.save(paths["rgba"])
    palette = Image.new("P", (6, 4), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)  # index 1 = green
    palette.save(paths["palette"])
    grey16 = np.full((4, 6), 65535, dtype=np.uint16)
    grey16[:, :3] = 0
    Image.fromarray(grey16).save(paths["grey16"])
    Image.new("CMYK", (6, 4), (0, 0, 0, 0)).save(paths["cmyk"])  # no ink: white
    return paths


def test_load_image_converts_every_mode(tmp_path: Path) -> None:
    paths = write_formats(tmp_path)
    with Image.open(paths["grey16"]) as img:
        assert img.mode.startswith("I")  # really stored as 16-bit
    pixel = {k: np.asarray(load_image(p)) for k, p in paths.items()}  # (H, W, 3) uint8
    assert all(a.shape == (4, 6, 3) and a.dtype == np.uint8 for a in pixel.values())
    assert pixel["rgb"][0, 0].tolist() == [255, 0, 0]
    assert pixel["rgba"][0, 0].tolist() == [255, 0, 0] and pixel["rgba"][1, 1].tolist() == [255, 255, 255]
    assert pixel["palette"][0, 0].tolist() == [0, 255, 0]
    assert pixel["grey16"][0, 0].tolist() == [0, 0, 0] and pixel["grey16"][0, 5].tolist() == [255, 255, 255]
    assert pixel["cmyk"].min() >= 250
    grey = np.asarray(load_image(paths["grey16"], grayscale=True))
    assert grey.shape == (4, 6) and grey[0, 0] == 0 and grey[0, 5] == 255


def test_folder_with_class_subfolders(tmp_path: Path) -> None:
    paths = write_formats(tmp_path / "staging")
    for key, cls in [("rgb", "cats"), ("jpeg", "cats"), ("rgba", "dogs"), ("palette", "dogs"), ("grey16", "dogs")]:
        target = tmp_path / "pets" / cls / paths[key].name
        target.parent.mkdir(parents=True, exist_ok=True)
        paths[key].rename(target)
    (tmp_path / "pets" / "empty").mkdir()  # no images: not a class
    (tmp_path / "pets" / "notes.txt").write_text("not an image")
    split = LOADERS["folder"](root=str(tmp_path / "pets"), image_size=8)
    assert split.classes == ["cats", "dogs"]
    assert (split.image_shape, split.likelihood) == ((3, 8, 8), "gaussian")
    assert (len(split.train), len(split.test)) == (4, 1)
    train_x, train_y, test_x, test_y = all_items(split)
    assert train_x.shape == (4, 3, 8, 8) and test_x.shape == (1, 3, 8, 8)
    assert sorted(train_y + test_y) == [0, 0, 1, 1, 1]
    assert train_x.min() >= 0 and train_x.max() <= 1
    again = LOADERS["folder"](root=str(tmp_path / "pets"), image_size=8)
    assert again.test.indices == split.test.indices  # the seeded split is fixed

    grey = LOADERS["folder"](root=str(tmp_path / "pets"), image_size=8, grayscale=True)
    assert (grey.image_shape, grey.likelihood) == ((1, 8, 8), "bernoulli")
    assert grey.train[0][0].shape == (1, 8, 8)


def test_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    write_formats(tmp_path / "flat")
    split = LOADERS["folder"](root=str(tmp_path / "flat"), image_size=5)
    assert split.classes is None and split.image_shape == (3, 5, 5)
    train_x, train_y, test_x, test_y = all_items(split)
    assert train_x.shape == (5, 3, 5, 5) and test_x.shape == (1, 3, 5, 5)
    assert set(train_y + test_y) == {UNLABELLED}
    assert LOADERS["folder"](root=str(tmp_path / "flat")).train[0][0].shape == (3, 64, 64)  # default size


# ---------------------------------------------------------------------------------------------- missing data


@pytest.mark.parametrize("name, where", [
    ("mnist", "MNIST/raw"),
    ("fashion-mnist", "FashionMNIST/raw"),
    ("cifar10", "cifar-10-batches-py"),
    ("flowers102", "flowers-102"),
    ("folder", ""),
])
def test_missing_folder_raises_with_path(tmp_path: Path, name: str, where: str) -> None:
    root = tmp_path / "nowhere"
    expected = root.resolve() / where if where else root.resolve()
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(expected))) as info:
        LOADERS[name](root=str(root))
    assert isinstance(info.value, FileNotFoundError)
    if name != "folder":
        assert "--download" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="none given"):
        LOADERS[name](root=None)


def test_incomplete_folders_name_missing_files(tmp_path: Path) -> None:
    write_mnist(tmp_path, "MNIST", compress=False)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing: t10k-labels-idx1-ubyte"):
        LOADERS["mnist"](root=str(tmp_path))
    (tmp_path / "lonely").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "lonely" / "one.png")
    with pytest.raises(DatasetNotFoundError, match="at least 2"):
        LOADERS["folder"](root=str(tmp_path / "lonely"))
