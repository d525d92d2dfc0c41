"""The student: a diffusers `AutoencoderTiny` (TAESD's architecture) sized for a teacher's downsampling factor.

TAESD's blocks are residual stacks of three 3x3 convs at one width. diffusers' `EncoderTiny` / `DecoderTiny` keep that
width for every stage (a stage's first conv takes the previous stage's width), so the knobs are the width and the
number of blocks per stage. A stage per factor of 2, plus the full-resolution one: 3 stages for an f4 teacher, 4 for
SD's f8. The decoder's cost is dominated by its last stages (they run at full image size), so its last stage has no
block by default: only the conv after the last upsampling and the output conv run at full size.

The student reads and writes the latent as the teacher's pipeline scales it (`LatentScaling`: `(z - shift) * scale`),
so its own config says `scaling_factor` 1 and `shift_factor` 0, as TAESD's does for SD.

A preview decoder may stop short of the teacher's size (`decoder_factor`, a half of `factor`): its decoder has one
stage fewer and writes an image half as wide, trained against the teacher's decode pooled 2x2. Its full-size stage
is the costliest, so it decodes about twice as fast (an SD-class 4x32x32 code: 128 px instead of 256), for the page
to upscale while a slider moves. Such a student is a preview decoder, not an autoencoder: the explorer does not load
its folder as a model (explorer.models.foreign.diffusers_plain refuses a decoder that does not undo the encoder).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

MIN_WIDTH, MAX_WIDTH = 4, 256


@dataclass(frozen=True)
class StudentSpec:
    """The size of a student; `stages` follows from the teacher (log2 of its factor, plus 1)."""

    latent_channels: int  # the teacher's latent channels
    image_channels: int = 3  # the teacher's image channels
    factor: int = 4  # image pixels per latent cell along a side (the teacher's downsampling), a power of 2
    decoder_factor: int = 0  # pixels per latent cell the decoder writes: 0 = factor; factor / 2 for a half-size preview
    width: int = 32  # channels of every conv (TAESD: 64; 32 decodes 4x32x32 at f4 in 17 ms on one CPU thread)
    encoder_blocks: tuple[int, ...] = ()  # residual blocks per encoder stage, full resolution first; () = default
    decoder_blocks: tuple[int, ...] = ()  # residual blocks per decoder stage, latent resolution first; () = default

    def __post_init__(self) -> None:
        if self.factor < 2 or self.factor & (self.factor - 1):
            raise ValueError(f"the student needs a teacher whose downsampling factor is a power of 2 from 2 up, "
                             f"got {self.factor}")
        if self.decoder_factor == 0:
            object.__setattr__(self, "decoder_factor", self.factor)
        if self.decoder_factor not in (self.factor, self.factor // 2) or self.decoder_factor < 1:
            raise ValueError(f"the decoder factor must be the teacher's factor ({self.factor}) or half of it "
                             f"({self.factor // 2}, a half-size preview decoder), got {self.decoder_factor}")
        stages, decoder_stages = self.stages, self.decoder_stages
        # TAESD's shape (encoder 1, 3, 3, 3; decoder 3, 3, 3, 1), thinned where it runs at image size: the decoder's
        # full-size stage has no block, nor its half-size one from f8 up (4x32x32 -> 256 px: 50-70 ms a frame in
        # onnxruntime on one CPU thread, where (3, 3, 3, 1) at width 64 takes seconds)
        full_size_free = min(1 if self.decoder_factor <= 4 else 2, decoder_stages - 1)
        object.__setattr__(self, "encoder_blocks", tuple(self.encoder_blocks) or (1,) + (2,) * (stages - 1))
        object.__setattr__(self, "decoder_blocks", tuple(self.decoder_blocks)
                           or ((3,) + (2,) * (decoder_stages - 1 - full_size_free) + (0,) * full_size_free))
        if not MIN_WIDTH <= self.width <= MAX_WIDTH:
            raise ValueError(f"width must be from {MIN_WIDTH} to {MAX_WIDTH} channels, got {self.width}")
        for name, count, factor in (("encoder_blocks", stages, self.factor),
                                    ("decoder_blocks", decoder_stages, self.decoder_factor)):
            blocks = getattr(self, name)
            if len(blocks) != count or any(not isinstance(b, int) or b < 0 or b > 8 for b in blocks):
                raise ValueError(f"{name} must be {count} integers from 0 to 8 (one per stage of an f{factor} "
                                 f"{name.split('_')[0]}), got {list(blocks)}")

    @property
    def stages(self) -> int:
        """Encoder stages: one per factor of 2 of the teacher's downsampling, plus the full-resolution one."""
        return int(math.log2(self.factor)) + 1

    @property
    def decoder_stages(self) -> int:
        """Decoder stages: as the encoder's, one fewer for a half-size preview decoder."""
        return int(math.log2(self.decoder_factor)) + 1

    @property
    def preview_only(self) -> bool:
        """True for a half-size preview decoder (not an autoencoder the explorer loads as a model)."""
        return self.decoder_factor != self.factor

    def diffusers_config(self) -> dict[str, Any]:
        """The keyword arguments of `diffusers.AutoencoderTiny` (and so its saved config.json)."""
        return {"in_channels": self.image_channels, "out_channels": self.image_channels,
                "encoder_block_out_channels": (self.width,) * self.stages,
                "decoder_block_out_channels": (self.width,) * self.decoder_stages,
                "num_encoder_blocks": self.encoder_blocks, "num_decoder_blocks": self.decoder_blocks,
                "latent_channels": self.latent_channels, "upsampling_scaling_factor": 2, "act_fn": "relu",
                "scaling_factor": 1.0, "shift_factor": 0.0}

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "StudentSpec":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def build_student(spec: StudentSpec, seed: int = 0) -> nn.Module:
    """A fresh `diffusers.AutoencoderTiny` of this spec with seeded random weights, in float32 on the CPU."""
    import torch
    from diffusers import AutoencoderTiny

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderTiny(**spec.diffusers_config()).float()


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["StudentSpec", "build_student", "parameter_count"]
