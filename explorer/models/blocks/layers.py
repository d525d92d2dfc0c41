"""Small building blocks shared by the families."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import weight_norm

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "selu": nn.SELU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}


def activation(name: str) -> nn.Module:
    """An activation module by name (relu, selu, elu, leaky_relu)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def linear(in_features: int, out_features: int, use_weight_norm: bool = False) -> nn.Module:
    layer = nn.Linear(in_features, out_features)
    return weight_norm(layer) if use_weight_norm else layer


def mlp(sizes: list[int], act: str, use_weight_norm: bool = False) -> nn.Sequential:
    """Linear layers between consecutive sizes, each followed by the activation."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [linear(n_in, n_out, use_weight_norm), activation(act)]
    return nn.Sequential(*layers)
