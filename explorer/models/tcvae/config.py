"""The beta-TCVAE's configuration: the MLP family's fields (Chen et al. use a 1200-1200 MLP on dSprites) and
the total-correlation penalty's."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.models.mlp import MLPConfig
from explorer.models.tcvae.total_correlation import ESTIMATORS


@dataclass
class TCVAEConfig(MLPConfig):
    hidden_sizes: tuple[int, ...] = field(default=(1200, 1200), metadata={
        "help": "widths of the encoder's hidden layers (Chen et al. on dSprites: 1200,1200); the decoder mirrors them"})
    tc_weight: float = field(default=6.0, metadata={
        "help": "beta on the total correlation of the aggregate posterior (Chen et al.: 6 on dSprites); 1 is a VAE"})
    dataset_size: int = field(default=663_552, metadata={
        "help": "N in the minibatch estimate of q(z): the training set's size (default: dSprites' train split)",
        "not_a_size": True})  # a count of items, no layer width: the loader's parameter estimate skips it
    tc_estimator: str = field(default="mws", metadata={
        "help": "mws (minibatch-weighted, as published) or mss (minibatch-stratified)", "choices": ESTIMATORS})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iaf_steps:
            raise ValueError("the tcvae family needs a diagonal Gaussian posterior: iaf_steps must be 0")
        if self.tc_estimator not in ESTIMATORS:
            raise ValueError(f"tc_estimator must be one of {ESTIMATORS}, got {self.tc_estimator!r}")
        if self.dataset_size < 2:
            raise ValueError(f"dataset_size must be at least 2, got {self.dataset_size}")
        if self.tc_weight < 0:
            raise ValueError(f"tc_weight must be >= 0, got {self.tc_weight}")
