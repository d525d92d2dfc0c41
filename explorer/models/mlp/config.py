"""The MLP family's config: hidden widths, activation, weight norm, IAF posterior steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.distributions.iaf import IAFFields, check_iaf_fields
from explorer.models.base import VAEConfig
from explorer.models.blocks.layers import ACTIVATIONS


@dataclass
class MLPConfig(IAFFields, VAEConfig):  # VAEConfig's fields, then the IAF ones, then these
    hidden_sizes: tuple[int, ...] = field(default=(512, 256), metadata={
        "help": "widths of the encoder's hidden layers, e.g. 512,256; the decoder mirrors them"})
    activation: str = field(default="relu", metadata={
        "help": "relu, or selu (self-normalising, Klambauer et al. 2017), also elu, leaky_relu", "choices": tuple(sorted(ACTIVATIONS))})
    weight_norm: bool = field(default=False, metadata={"help": "weight-normalised linear layers (Salimans & Kingma 2016)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_iaf_fields(self)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be one or more positive widths, got {list(self.hidden_sizes)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
