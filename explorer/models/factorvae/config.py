"""FactorVAE's configuration: the MLP family's fields and the total-correlation discriminator's."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.models.mlp import MLPConfig


@dataclass
class FactorVAEConfig(MLPConfig):
    hidden_sizes: tuple[int, ...] = field(default=(1200, 1200), metadata={
        "help": "widths of the encoder's hidden layers; the decoder mirrors them"})
    tc_weight: float = field(default=35.0, metadata={
        "help": "gamma on the discriminator's estimate of total correlation (Kim & Mnih sweep 10 to 100)"})
    disc_hidden: int = field(default=1000, metadata={"help": "width of the discriminator's hidden layers (paper: 1000)"})
    disc_layers: int = field(default=6, metadata={"help": "hidden layers of the discriminator (paper: 6)"})
    disc_lr: float = field(default=1e-4, metadata={"help": "the discriminator's Adam learning rate (paper: 1e-4, betas 0.5, 0.9)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iaf_steps:
            raise ValueError("the factorvae family needs a diagonal Gaussian posterior: iaf_steps must be 0")
        if self.disc_hidden < 1 or self.disc_layers < 1:
            raise ValueError(f"disc_hidden and disc_layers must be positive, got {self.disc_hidden}, {self.disc_layers}")
        if self.tc_weight < 0 or self.disc_lr <= 0:
            raise ValueError(f"tc_weight must be >= 0 and disc_lr > 0, got {self.tc_weight}, {self.disc_lr}")
