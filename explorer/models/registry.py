"""One registry from a family name to its model class."""

from __future__ import annotations

from typing import Any

import explorer.models
from explorer.models.base import VAE, Capabilities, VAEConfig

MODEL_REGISTRY: dict[str, type[VAE]] = {}


def register_model(cls: type[VAE]) -> type[VAE]:
    """Class decorator: make a family available by its `family` name."""
    if not cls.family:
        raise ValueError(f"{cls.__name__} has no family name")
    MODEL_REGISTRY[cls.family] = cls
    return cls


def get_model_class(family: str) -> type[VAE]:
    try:
        return MODEL_REGISTRY[family]
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(MODEL_REGISTRY)}") from None


def build_model(family: str, **config: Any) -> VAE:
    """Instantiate a family from keyword config values."""
    cls = get_model_class(family)
    return cls(cls.config_class.from_dict(config))


def family_capabilities(family: str, config: dict[str, Any]) -> Capabilities:
    """What a checkpoint of `family` with this config.json `config` offers, without building the model."""
    cls = get_model_class(family)
    return cls.config_capabilities(cls.config_class.from_dict(dict(config)))


def available_families() -> list[str]:
    return sorted(MODEL_REGISTRY)


__all__ = ["MODEL_REGISTRY", "VAEConfig", "available_families", "build_model", "family_capabilities", "get_model_class", "register_model"]
