"""A test-only captioning family with tensor-shaped codes, standing in for 'pu' where no pu checkpoint exists.

It declares captions and labels in its capabilities and implements the interface's `captions(code, method, n,
temperature, beam_size, generator, max_len) -> list[str]` (B * n strings for codes (B, *latent_shape)),
`label_probabilities(code)` and `vocabulary()`. Importing this module registers the family "tinycap".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian
from explorer.models.base import VAE, Capabilities, VAEConfig
from explorer.models.registry import MODEL_REGISTRY, register_model

WORDS = ("a", "red", "blue", "green", "small", "large", "circle", "square", "triangle", "on", "left", "right")


@dataclass
class TinyCapConfig(VAEConfig):
    code_channels: int = 2  # code is (code_channels, code_size, code_size)
    code_size: int = 3
    class_names: tuple[str, ...] = ("circle", "square", "triangle")
    words: tuple[str, ...] = WORDS

    def __post_init__(self) -> None:
        super().__post_init__()
        self.class_names = tuple(self.class_names)
        self.words = tuple(self.words)


class TinyCaptioner(VAE):
    family = "tinycap"
    config_class = TinyCapConfig

    def __init__(self, config: TinyCapConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        d = math.prod(self.latent_shape)
        self.enc = nn.Linear(pixels, 2 * d)
        self.dec = nn.Linear(d, pixels)
        self.words_head = nn.Linear(d, len(config.words))
        self.labels_head = nn.Linear(d, len(config.class_names))

    @classmethod
    def config_capabilities(cls, config: TinyCapConfig) -> Capabilities:
        return Capabilities(captions=True, labels=bool(config.class_names), spatial_code=True)

    def vocabulary(self) -> list[str]:
        return list(self.config.words)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.code_channels, self.config.code_size, self.config.code_size)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        mean, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        return DiagonalGaussian(mean.view(-1, *self.latent_shape), logvar.view(-1, *self.latent_shape))

    def decode(self, z: Tensor):
        return self.make_likelihood(self.dec(z.flatten(1)).view(-1, *self.config.input_shape))

    def _flat(self, z: Tensor) -> Tensor:
        d = math.prod(self.latent_shape)
        return z.reshape(-1, d).to(self.device)

    @torch.no_grad()
    def label_probabilities(self, code: Tensor, n_draws: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return torch.softmax(self.labels_head(self._flat(code)), dim=-1)

    @torch.no_grad()
    def captions(self, code: Tensor, method: str = "sample", n: int = 1, temperature: float = 1.0,
                 beam_size: int = 5, generator: torch.Generator | None = None, max_len: int | None = None) -> list[str]:
        logits = self.words_head(self._flat(code))  # (B, V)
        length = min(max_len or 4, 4)
        out = []
        for row in logits:
            if method == "greedy":
                out.append(" ".join(self.config.words[i] for i in row.topk(length).indices.tolist()))
            elif method == "beam":
                order = row.topk(min(len(row), length + n)).indices.tolist()
                out += [" ".join(self.config.words[i] for i in order[k : k + length]) for k in range(n)]
            else:
                probs = torch.softmax(row / max(temperature, 1e-3), dim=-1)
                for _ in range(n):
                    ids = torch.multinomial(probs, length, replacement=True, generator=generator).tolist()
                    out.append(" ".join(self.config.words[i] for i in ids))
        return out


if "tinycap" not in MODEL_REGISTRY:
    register_model(TinyCaptioner)
