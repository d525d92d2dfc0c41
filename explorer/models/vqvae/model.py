"""The VQ-VAE (van den Oord et al. 2017) with vector-quantize-pytorch's `VectorQuantize`: an EMA codebook, optional
k-means initialisation and dead-code replacement, and an optional top level at half the grid (VQ-VAE-2 style, Razavi
et al. 2019) whose vectors, repeated onto the bottom grid, join the bottom's as the decoder's input.

Shapes (28x28 input, channels 32,64): features (B, 64, 7, 7) -> bottom code (B, code_dim, 7, 7), indices (B, 7, 7);
two-level: top code (B, code_dim, 4, 4), decoder input (B, 2 * code_dim, 7, 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from explorer.models.base import CodeLevel
from explorer.models.blocks.discrete import DiscreteVAE, Quantised, ResBlock, conv_decoder, conv_encoder, nearest_to
from explorer.models.registry import register_model
from explorer.models.vqvae.config import VQVAEConfig


def vector_quantizer(config: VQVAEConfig) -> nn.Module:
    """The library's quantiser over (B, code_dim, h, w) maps; the commitment term is the model's own (per sample).
    Imported here, when a model is built: importing vector_quantize_pytorch loads torch._dynamo, which importing
    explorer.models must not (tests/models/test_imports.py)."""
    from vector_quantize_pytorch import VectorQuantize

    return VectorQuantize(dim=config.code_dim, codebook_size=config.codebook_size, decay=config.ema_decay,
                          kmeans_init=config.kmeans_init, threshold_ema_dead_code=config.dead_code_threshold,
                          commitment_weight=0.0, accept_image_fmap=True)


def nearest_codes(z_e: Tensor, codebook: Tensor) -> Tensor:
    """Indices (B, h, w) int64 of each cell's nearest code: z_e (B, D, h, w), codebook (K, D); squared distances
    ||z||^2 - 2 z.e + ||e||^2 in float64 (one matrix product, traced by the ONNX export as Cast, MatMul, ArgMin)."""
    b, d, h, w = z_e.shape
    f = z_e.permute(0, 2, 3, 1).reshape(-1, d).double()  # (B*h*w, D)
    e = codebook.double()  # (K, D)
    distances = (f * f).sum(1, keepdim=True) - 2 * f @ e.T + (e * e).sum(1)[None]  # (B*h*w, K)
    return distances.argmin(1).reshape(b, h, w)


@register_model
class VQVAE(DiscreteVAE):
    family = "vqvae"
    config_class = VQVAEConfig
    config: VQVAEConfig
    has_commitment = True

    def __init__(self, config: VQVAEConfig):
        super().__init__(config)
        in_ch = config.input_shape[0]
        width = config.channels[-1]
        self.encoder, field = conv_encoder(in_ch, config.channels, config.res_blocks)
        self.to_code = nn.Conv2d(width, config.code_dim, 1)
        self.vq = vector_quantizer(config)
        h, w = config.grid
        levels = [CodeLevel("bottom" if config.two_level else "code", (h, w), config.stride, field.size, field.offset,
                            config.code_dim, config.codebook_size)]
        if config.two_level:
            self.top_encoder = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), ResBlock(width), nn.ReLU(),
                                             nn.Conv2d(width, config.code_dim, 1))
            self.top_vq = vector_quantizer(config)
            top = field.conv(3, 2, 1).res_blocks(1)
            levels.append(CodeLevel("top", ((h + 1) // 2, (w + 1) // 2), config.stride * 2, top.size, top.offset,
                                    config.code_dim, config.codebook_size))
        self.levels = tuple(levels)
        self.decoder = conv_decoder(self.decoder_input_size, config.channels, config.res_blocks, in_ch)

    @property
    def decoder_input_size(self) -> int:
        return self.config.code_dim * (2 if self.config.two_level else 1)

    def code_levels(self) -> tuple[CodeLevel, ...]:
        return self.levels

    def codebook(self, level: int = 0) -> Tensor:
        return (self.top_vq if level == 1 else self.vq).codebook.detach()  # (K, code_dim)

    def _quantised(self, vq: nn.Module, z_e: Tensor) -> tuple[Tensor, Tensor]:
        """(code vectors, indices (B, h, w)) of z_e (B, code_dim, h, w). Training: the library's quantiser (its
        straight-through rotation trick, EMA updates and dead-code replacement). Evaluation: the nearest code with
        the squared distances in float64, so that torch and an ONNX export of this model, whose float32 z_e differ in
        the last bits, pick the same code at float32 near-ties (docs/discrete.md); the library's float32 search picks
        another code in about 0.02% of cells."""
        if self.training:
            z_q, idx, _ = vq(z_e)
            return z_q, idx
        idx = nearest_codes(z_e, vq.codebook)
        return vq.get_output_from_indices(idx), idx

    def quantise(self, x: Tensor) -> Quantised:
        features = self.encoder(x)  # (B, width, h, w)
        z_e = self.to_code(features)  # (B, code_dim, h, w)
        z_q, idx = self._quantised(self.vq, z_e)  # code vectors, indices (B, h, w)
        commitment = self.config.commitment_weight * (z_e - z_q.detach()).pow(2).flatten(1).sum(1)  # (B,)
        if not self.config.two_level:
            return Quantised(z_q, [idx], commitment)
        t_e = self.top_encoder(features)  # (B, code_dim, h/2, w/2)
        t_q, t_idx = self._quantised(self.top_vq, t_e)
        commitment = commitment + self.config.commitment_weight * (t_e - t_q.detach()).pow(2).flatten(1).sum(1)
        top, bottom = nearest_to(t_q, self.config.grid), z_q
        if self.training and self.config.level_dropout > 0:
            # (B,) draw: top dropped under p, bottom dropped in [p, 2p), so the decoder learns each level alone
            r = torch.rand(x.shape[0], 1, 1, 1, device=x.device)
            top = top * (r >= self.config.level_dropout)
            bottom = bottom * ((r < self.config.level_dropout) | (r >= 2 * self.config.level_dropout))
        return Quantised(torch.cat([bottom, top], 1), [idx, t_idx], commitment)

    def vectors_from_indices(self, indices: list[Tensor], keep: Sequence[int]) -> Tensor:
        parts = [self.vq.get_output_from_indices(indices[0])]  # (B, code_dim, h, w)
        if self.config.two_level:
            parts.append(nearest_to(self.top_vq.get_output_from_indices(indices[1]), tuple(indices[0].shape[1:])))
        return torch.cat([p if i in keep else torch.zeros_like(p) for i, p in enumerate(parts)], 1)
