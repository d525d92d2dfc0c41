"""A conditional model seen under one default class, for code that passes no condition.

`with_default_condition(model, c)` returns a view that shares the model's weights and implements the whole
interface: every call without `condition=` uses class c, an explicit `condition=` still wins. The app shows a
conditional model on pages that know nothing of classes through such a view (the sidebar's class).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from explorer.models.base import VAE, Capabilities, Condition
from explorer.models.latent_scaling import LatentScaling


class DefaultCondition(VAE):
    """`model` with `condition` defaulting to one class index (a view: no weights of its own)."""

    def __init__(self, model: VAE, condition: int):
        nn.Module.__init__(self)  # not VAE.__init__: the scale parameters belong to the wrapped model
        k = model.capabilities().condition_classes
        if k < 1:
            raise ValueError(f"the {model.family!r} model is not conditional (capabilities().condition_classes = 0)")
        if not 0 <= int(condition) < k:
            raise ValueError(f"class {condition} is outside 0..{k - 1}")
        self.inner = model
        self.config = model.config
        self.condition = int(condition)
        self.family = model.family
        self.code_name = model.code_name

    def _given(self, condition: Condition) -> Condition:
        return self.condition if condition is None else condition

    # -- what the view passes on ----------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.inner.latent_shape

    def likelihood_description(self) -> str:
        return self.inner.likelihood_description()

    def code_from_latent(self, z: Tensor) -> Tensor:
        return self.inner.code_from_latent(z)

    def latent_from_code(self, code: Tensor) -> Tensor:
        return self.inner.latent_from_code(code)

    def code_scaling(self) -> tuple[float, float]:
        return self.inner.code_scaling()

    def latent_scaling(self) -> LatentScaling:
        return self.inner.latent_scaling()

    def encode(self, x: Tensor, condition: Condition = None):
        return self.inner.encode(x, condition=self._given(condition))

    def decode(self, z: Tensor, condition: Condition = None):
        return self.inner.decode(z, condition=self._given(condition))

    def encode_code(self, x: Tensor, condition: Condition = None) -> Tensor:
        return self.inner.encode_code(x, condition=self._given(condition))

    def decode_code(self, code: Tensor, seed: int = 0, condition: Condition = None) -> Tensor:
        return self.inner.decode_code(code, seed, condition=self._given(condition))

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None, condition: Condition = None) -> dict[str, Tensor]:
        return self.inner.elbo_terms(x, generator, condition=self._given(condition))

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None,
                         condition: Condition = None) -> Tensor:
        return self.inner.iwae_log_weights(x, k, generator, condition=self._given(condition))

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               condition: Condition = None) -> Tensor:
        return self.inner.sample(n, generator, temperature, condition=self._given(condition))

    def reconstruct(self, x: Tensor, condition: Condition = None) -> Tensor:
        return self.inner.reconstruct(x, condition=self._given(condition))

    def interpolate(self, x0: Tensor, x1: Tensor, steps: int, spherical: bool = False,
                    condition: int | None = None) -> Tensor:
        return self.inner.interpolate(x0, x1, steps, spherical, condition=self._given(condition))

    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        return self.inner.loss_terms(batch, generator)  # a batch carries its own labels


def with_default_condition(model: VAE, condition: int) -> DefaultCondition:
    """A view of a conditional model whose calls without `condition=` use class `condition`."""
    inner = model.inner if isinstance(model, DefaultCondition) else model
    return DefaultCondition(inner, condition)
