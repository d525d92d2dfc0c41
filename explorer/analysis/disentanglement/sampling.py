"""Where the metrics get (factors, codes) pairs: a factor data set and either an encode function or the cached
posterior means of every item of a grid.

Every metric here is computed on posterior MEANS, never on sampled codes (sampled codes add noise that is no
property of the representation, a known cause of near-zero MIG): `model_encoder(model)` is the model's posterior
mean (`explorer.latent.encode_means`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from torch import Tensor

from explorer.data.factors import FactorData, FactorGrid
from explorer.latent import encode_means

Encode = Callable[[Tensor], np.ndarray]  # images (n, C, H, W) -> posterior means (n, D)


def model_encoder(model: Any, batch_size: int = 256) -> Encode:
    """The posterior-mean encoder of a VAE: images (n, C, H, W) -> means (n, D) float32 numpy."""
    return lambda images: encode_means(model, images, batch_size=batch_size)


class CodeSource:
    """Draws (factors (n, K), codes (n, D)) from a factor data set. Codes come from `encode` (images rendered or
    read, then encoded `batch_size` at a time) or, for a grid, from `means` (len(grid), D): the posterior means
    of every grid item in index order, looked up (exact for a deterministic renderer)."""

    def __init__(self, data: FactorData, encode: Encode | None = None, means: np.ndarray | None = None,
                 batch_size: int = 256):
        if (encode is None) == (means is None):
            raise ValueError("give exactly one of encode (a function) and means (cached posterior means)")
        if means is not None:
            if not isinstance(data, FactorGrid):
                raise ValueError(f"cached means index a full factor grid; {data.name!r} is not one")
            means = np.asarray(means)
            if means.ndim != 2 or len(means) != len(data):
                raise ValueError(f"means must be (items, D) = ({len(data):,}, D) for {data.name!r}, got {means.shape}")
        self.data, self.encode, self.means, self.batch_size = data, encode, means, batch_size

    def _codes(self, factors: np.ndarray, images: Tensor | None) -> np.ndarray:
        if self.means is not None:
            return np.asarray(self.means[self.data.index_of(factors)], dtype=np.float64)  # type: ignore[attr-defined]
        parts = [np.asarray(self.encode(images[s:s + self.batch_size]), dtype=np.float64)  # type: ignore[misc,index]
                 for s in range(0, len(images), self.batch_size)]  # type: ignore[arg-type]
        return np.concatenate(parts).reshape(len(factors), -1)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n random items: factors (n, K) int64, codes (n, D) float64."""
        if self.means is not None:
            f = self.data.sample_factors(n, rng)  # type: ignore[attr-defined]  (no images needed)
            return f, self._codes(f, None)
        f, images = self.data.sample(n, rng)
        return f, self._codes(f, images)

    def sample_matching(self, values: np.ndarray, k: int | np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Items whose factor k equals values item by item (FactorData.sample_matching), with their codes."""
        if self.means is not None:
            values = np.asarray(values, dtype=np.int64).reshape(-1)
            f = self.data.sample_factors(len(values), rng)  # type: ignore[attr-defined]
            f[np.arange(len(values)), np.broadcast_to(np.asarray(k, dtype=np.int64), values.shape)] = values
            return f, self._codes(f, None)
        f, images = self.data.sample_matching(values, k, rng)
        return f, self._codes(f, images)

    def sample_chunked(self, n: int, rng: np.random.Generator, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """`sample(n)` drawn `chunk` items at a time (bounded memory for images)."""
        parts = [self.sample(min(chunk, n - s), rng) for s in range(0, n, chunk)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def as_source(encode: Encode | np.ndarray | CodeSource, data: FactorData) -> CodeSource:
    """A CodeSource from an encode function, cached means (an array) or a CodeSource."""
    if isinstance(encode, CodeSource):
        return encode
    if isinstance(encode, np.ndarray):
        return CodeSource(data, means=encode)
    return CodeSource(data, encode=encode)


@dataclass
class MetricResult:
    """One metric's figure, what it was computed from, and its details (matrices as nested lists)."""

    name: str
    value: float
    settings: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "description": self.description,
                "settings": self.settings, "details": self.details}
