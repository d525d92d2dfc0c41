"""explorer.analysis.class_transfer: the share per class is of the OTHER classes' items decoded under it, read in the
grid's order (row = item, column = class); the reader is a CNN that learns digits."""

from __future__ import annotations

import torch

from explorer.analysis.class_transfer import class_transfer_shares, train_digit_reader
from explorer.models.registry import build_model


def tiny_cvae():
    torch.manual_seed(0)
    return build_model("cvae", input_shape=(1, 28, 28), n_classes=3, latent_dim=2, channels=(4, 8), hidden_dim=16).eval()


def test_shares_count_other_classes_read_in_grid_order():
    model = tiny_cvae()
    images, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 2])
    asked = class_transfer_shares(model, images, labels, lambda grid: torch.arange(len(grid)) % 3)  # says the column
    assert asked == {0: 1.0, 1: 1.0, 2: 1.0}
    own = class_transfer_shares(model, images, labels, lambda grid: labels.repeat_interleave(3))  # says the item's label
    assert own == {0: 0.0, 1: 0.0, 2: 0.0}
    # class 0 asked of the four items of classes 1 and 2: one of them read as 0
    said = torch.arange(18) % 3
    said[2 * 3 + 0] = 1  # item 2 (class 1) under class 0 read as 1
    assert class_transfer_shares(model, images, labels, lambda grid: said)[0] == 0.75


def test_the_reader_learns_digits():
    from explorer.data.embedded import load_mnist5k

    data = load_mnist5k()
    x, y = data.train.images[:3000].float().div(255), data.train.labels[:3000]
    reader = train_digit_reader(x, y, epochs=3)
    with torch.inference_mode():
        accuracy = (reader(data.test.images.float().div(255)).argmax(1) == data.test.labels).float().mean()
    assert accuracy > 0.85
    assert not reader.training
