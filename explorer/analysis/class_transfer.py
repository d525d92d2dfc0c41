"""Does a conditional model write a code as the class it is asked for? Each test item's code (its style, read
under its own label) is decoded under every class c, and an independent reader says which class each image
shows. A class's share: the items of other classes decoded under c that the reader calls c."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.latent import style_class_grid
from explorer.models.base import VAE


def train_digit_reader(images: Tensor, labels: Tensor, n_classes: int = 10, epochs: int = 6, seed: int = 0) -> nn.Module:
    """A small CNN (two 5x5 conv layers and a 64-unit layer, ~0.1 M weights), trained with Adam on (N, 1, H, W)
    images in [0, 1] with H and W divisible by 4 and their labels (N,); seeded, on the CPU. Returns it in eval
    mode: (B, 1, H, W) -> (B, n_classes) logits."""
    torch.manual_seed(seed)
    h, w = images.shape[-2:]
    reader = nn.Sequential(nn.Conv2d(images.shape[1], 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(32 * (h // 4) * (w // 4), 64), nn.ReLU(), nn.Linear(64, n_classes))
    optimiser = torch.optim.Adam(reader.parameters(), 1e-3)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=order).split(64):
            loss = F.cross_entropy(reader(images[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return reader.eval()


def class_transfer_shares(model: VAE, images: Tensor, labels: Tensor, read) -> dict[int, float]:
    """For each class c of the conditional `model`: the share of items (images (N, C, H, W) in [0, 1], labels (N,))
    of other classes whose code, decoded under c, `read` ((B, C, H, W) -> (B,) class indices) calls c."""
    k = model.capabilities().condition_classes
    with torch.inference_mode():
        codes = model.encode_code(images.to(model.device), condition=labels.to(model.device))  # (N, D)
        grid = style_class_grid(model, codes, list(range(k)))  # (N * K, C, H, W), row = item, column = class
        said = torch.as_tensor(read(grid)).reshape(len(images), k)
    return {c: float((said[labels != c, c] == c).float().mean()) for c in range(k)}
