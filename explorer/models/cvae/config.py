"""CVAEConfig: the conditional VAE's body (mlp or conv) with that body's fields, and the classes it is
conditioned on (`n_classes`, `class_names`: filled from the data set's classes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explorer.models.base import VAEConfig
from explorer.models.blocks.layers import ACTIVATIONS

BODIES = ("mlp", "conv")


def _help(default: Any, text: str, **extra: Any) -> Any:
    """A dataclass field with its default and its help text (tuples are given as their default value)."""
    return field(default=default, metadata={"help": text, **extra})


@dataclass
class CVAEConfig(VAEConfig):
    body: str = _help("conv", "cvae: encoder/decoder body; conv: the label enters the encoder as one-hot input "
                              "channels, mlp: concatenated to the flattened pixels; the decoder gets it beside z",
                      choices=BODIES)
    n_classes: int = _help(0, "cvae: number of classes it is conditioned on (from the data set's classes)")
    class_names: tuple[str, ...] = _help((), "cvae: class names (from the data set's classes)")
    # the conv body (as explorer.models.conv)
    channels: tuple[int, ...] = _help((32, 64, 128), "conv widths, e.g. 32,64,128; each layer halves the spatial size")
    hidden_dim: int = _help(256, "width of the fully connected layer between the conv features and the code (0: none)")
    batch_norm: bool = _help(False, "batch norm after each conv (not after the output layer)")
    label_every_layer: bool = _help(True, "conv body: the one-hot label also enters every decoder layer as K constant "
                                          "channels, not only beside z (so each layer can draw the class)")
    # the mlp body (as explorer.models.mlp)
    hidden_sizes: tuple[int, ...] = _help((512, 256), "widths of the encoder's hidden layers, e.g. 512,256; the "
                                                      "decoder mirrors them")
    weight_norm: bool = _help(False, "weight-normalised linear layers (Salimans & Kingma 2016)")
    activation: str = _help("relu", "nonlinearity after each layer", choices=tuple(sorted(ACTIVATIONS)))

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> "CVAEConfig":
        """A saved config without `label_every_layer` predates it: its decoder took the label beside z only."""
        return cls.from_dict({"label_every_layer": False, **values})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.channels = tuple(int(c) for c in self.channels)
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        self.class_names = tuple(str(c) for c in self.class_names)
        if self.body not in BODIES:
            raise ValueError(f"body must be one of {BODIES}, got {self.body!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.n_classes < 0:
            raise ValueError(f"n_classes must be 0 or more, got {self.n_classes}")
        if self.class_names and len(self.class_names) != self.n_classes:
            raise ValueError(f"{len(self.class_names)} class names for n_classes = {self.n_classes}")
        if self.body == "conv" and not self.channels:
            raise ValueError("channels must name at least one conv layer")
