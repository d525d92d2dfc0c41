"""The conv family's config: strided conv widths, an optional fully connected layer, IAF posterior steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.distributions.iaf import IAFFields, check_iaf_fields
from explorer.models.base import VAEConfig
from explorer.models.blocks.layers import ACTIVATIONS


@dataclass
class ConvConfig(IAFFields, VAEConfig):  # VAEConfig's fields, then the IAF ones, then these
    channels: tuple[int, ...] = field(default=(32, 64, 128), metadata={
        "help": "conv widths, e.g. 32,64,128; each layer halves the spatial size"})
    hidden_dim: int = field(default=256, metadata={
        "help": "width of the fully connected layer between the conv features and the code (0: none)"})
    batch_norm: bool = field(default=False, metadata={"help": "batch norm after each conv (not after the output layer)"})
    activation: str = field(default="relu", metadata={
        "help": "nonlinearity after each layer", "choices": tuple(sorted(ACTIVATIONS))})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_iaf_fields(self)
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels:
            raise ValueError("channels must name at least one conv layer")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")


def conv_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes after each stride-2, kernel-3, padding-1 conv, starting with the input size."""
    sizes = [size]
    for _ in range(layers):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes
