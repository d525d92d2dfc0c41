"""FSQConfig: the levels of finite scalar quantisation (their product is the number of implicit codes), beside the
conv widths every discrete family shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from explorer.models.blocks.discrete import DiscreteConfig


@dataclass
class FSQConfig(DiscreteConfig):
    levels: tuple[int, ...] = field(default=(8, 5, 5, 5), metadata={
        "help": "fsq: quantisation levels per code channel; K = their product (8,5,5,5: 1000 codes)"})
    pre_norm: bool = field(default=True, metadata={
        "help": "fsq: normalise each code channel before quantising (BatchNorm, no affine), so that the bounded code "
                "spreads over the levels instead of saturating at the lattice's corners"})

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> "FSQConfig":
        """Checkpoints saved before pre_norm existed were built without it."""
        return cls.from_dict({"pre_norm": False, **values})

    def __post_init__(self) -> None:
        super().__post_init__()
        self.levels = tuple(int(v) for v in self.levels)
        if not self.levels or any(v < 3 for v in self.levels):
            raise ValueError(f"fsq: levels must be integers of 3 or more (one per code channel), got {self.levels}")

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)
