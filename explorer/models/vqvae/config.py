"""VQVAEConfig: the VQ-VAE's codebook (size, vector length, EMA decay), its options (k-means initialisation, dead-code
replacement) and the two-level (VQ-VAE-2 style) switch, beside the conv widths every discrete family shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.models.blocks.discrete import DiscreteConfig


@dataclass
class VQVAEConfig(DiscreteConfig):
    codebook_size: int = field(default=512, metadata={"help": "vqvae: codes per codebook (K)"})
    code_dim: int = field(default=32, metadata={"help": "vqvae: length of a code vector"})
    ema_decay: float = field(default=0.8, metadata={
        "help": "vqvae: decay of the EMA codebook update (vector-quantize-pytorch's `decay`)"})
    commitment_weight: float = field(default=0.25, metadata={
        "help": "vqvae: beta of the commitment term beta * |z_e - sg(code)|^2, summed over the code's values"})
    kmeans_init: bool = field(default=False, metadata={
        "help": "vqvae: initialise the codebook by k-means on the first batch (the library's kmeans_init)"})
    dead_code_threshold: float = field(default=0.0, metadata={
        "help": "vqvae: replace codes whose EMA cluster size falls under this by vectors of the batch (the "
                "library's threshold_ema_dead_code; 0: never)"})
    two_level: bool = field(default=False, metadata={
        "help": "vqvae: add a top level at half the grid (VQ-VAE-2 style); each level decodes alone"})
    level_dropout: float = field(default=0.0, metadata={
        "help": "vqvae two-level: chance per item and step that one level's vectors are zeroed in training, so the "
                "decoder learns to decode either level alone"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("codebook_size", "code_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"vqvae: {name} must be an integer of 2 or more, got {value!r}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"vqvae: ema_decay must lie in (0, 1), got {self.ema_decay}")
        if self.commitment_weight < 0 or self.dead_code_threshold < 0:
            raise ValueError("vqvae: commitment_weight and dead_code_threshold must be 0 or more, got "
                             f"{self.commitment_weight} and {self.dead_code_threshold}")
        if not 0.0 <= self.level_dropout < 0.5:
            raise ValueError(f"vqvae: level_dropout must lie in [0, 0.5), got {self.level_dropout}")
        if self.level_dropout and not self.two_level:
            raise ValueError("vqvae: level_dropout needs two_level (a one-level model has no other level to decode)")
