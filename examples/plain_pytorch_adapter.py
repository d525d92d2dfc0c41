"""A plain-PyTorch VAE (an MLP on 1x28x28) and the adapter function the explorer calls to load it.

This file is an example of a VAE trained outside the explorer. The explorer runs it only when trusted:

    python train.py ... / the app: pass `--trust-code examples/plain_pytorch_adapter.py`
    Python: explorer.checkpoint.from_pretrained(path, trusted_code=[path])

Weights come from `plain_pytorch_adapter.safetensors` beside this file when it exists (write it with
`save_example_weights`), else from a fixed seed (an untrained but reproducible model). No pickles.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from explorer.models.foreign.adapter import AdapterSpec

WEIGHTS = Path(__file__).with_suffix(".safetensors")
INPUT_SHAPE = (1, 28, 28)
LATENT_DIM = 8


class PlainVAE(nn.Module):
    """Encoder 784 -> 64 -> (mean, logvar) of 8; decoder 8 -> 64 -> 784 logits."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 64):
        super().__init__()
        pixels = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 1, 28, 28) in [0, 1] -> mean, logvar (B, 8)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Codes (B, 8) -> Bernoulli logits (B, 1, 28, 28)."""
        return self.decoder(z).view(-1, *INPUT_SHAPE)


def build(seed: int = 0) -> PlainVAE:
    """The example network: weights from WEIGHTS when present, else initialised from seed (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PlainVAE()
    if WEIGHTS.is_file():
        net.load_state_dict(load_file(str(WEIGHTS)))
    return net.eval()


def save_example_weights(net: PlainVAE, path: Path = WEIGHTS) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(path))


def load_vae(device: torch.device) -> AdapterSpec:
    """The adapter function the explorer calls (see explorer.models.foreign.adapter)."""
    net = build().to(device)
    return AdapterSpec(encode=net.encode, decode=net.decode, input_shape=INPUT_SHAPE, latent_shape=(LATENT_DIM,),
                       likelihood="bernoulli", value_range=(0.0, 1.0), module=net)
