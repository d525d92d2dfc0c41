"""FSQ (Mentzer et al. 2023, "Finite Scalar Quantization") with vector-quantize-pytorch's `FSQ`: the encoder's
len(levels) channels per cell are bounded and rounded to levels[i] values each, so the codebook is the implicit
lattice of prod(levels) points, with no learned vectors and no auxiliary loss.

Shapes (28x28 input, channels 32,64, levels 8,5,5,5): features (B, 64, 7, 7) -> code (B, 4, 7, 7) on the lattice
in [-1, 1], indices (B, 7, 7) in 0..999.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from explorer.models.base import CodeLevel
from explorer.models.blocks.discrete import DiscreteVAE, Quantised, conv_decoder, conv_encoder
from explorer.models.fsq.config import FSQConfig
from explorer.models.registry import register_model


@register_model
class FSQVAE(DiscreteVAE):
    family = "fsq"
    config_class = FSQConfig
    config: FSQConfig

    def __init__(self, config: FSQConfig):
        from vector_quantize_pytorch import FSQ  # here, not at import: it loads torch._dynamo (as vqvae's)

        super().__init__(config)
        in_ch = config.input_shape[0]
        self.encoder, field = conv_encoder(in_ch, config.channels, config.res_blocks)
        self.to_code = nn.Conv2d(config.channels[-1], len(config.levels), 1)
        # unit-variance channels before FSQ's tanh bound: without it the encoder pushed every channel to the bound
        # (fsq-mnist5k, levels 8,8,8: 8 of 512 codes in use, the lattice's corners; docs/discrete.md)
        self.norm = nn.BatchNorm2d(len(config.levels), affine=False) if config.pre_norm else nn.Identity()
        # dim = len(levels): no projection, so the code vectors are the lattice points themselves
        self.fsq = FSQ(levels=list(config.levels), dim=len(config.levels), channel_first=True)
        self.levels = (CodeLevel("code", config.grid, config.stride, field.size, field.offset, len(config.levels),
                                 config.codebook_size, learned_codebook=False),)
        self.decoder = conv_decoder(len(config.levels), config.channels, config.res_blocks, in_ch)

    @property
    def decoder_input_size(self) -> int:
        return len(self.config.levels)

    def code_levels(self) -> tuple[CodeLevel, ...]:
        return self.levels

    def codebook(self, level: int = 0) -> Tensor:
        k = torch.arange(self.config.codebook_size, device=self.device)
        return self.fsq.indices_to_codes(k).detach()  # (K, len(levels)): the lattice points

    def quantise(self, x: Tensor) -> Quantised:
        z_e = self.norm(self.to_code(self.encoder(x)))  # (B, len(levels), h, w)
        z_q, idx = self.fsq(z_e)  # lattice points (straight-through), indices (B, h, w)
        return Quantised(z_q, [idx], torch.zeros(x.shape[0], device=x.device))

    def vectors_from_indices(self, indices: list[Tensor], keep: Sequence[int]) -> Tensor:
        z = self.fsq.indices_to_codes(indices[0])  # (B, len(levels), h, w)
        return z if 0 in keep else torch.zeros_like(z)
