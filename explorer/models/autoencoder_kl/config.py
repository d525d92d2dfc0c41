"""AutoencoderKLConfig: the diffusers AutoencoderKL constructor arguments the family exposes, beside the fields
every family shares. The code is a (latent_channels, H / f, W / f) map, f = 2 ** (len(block_out_channels) - 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from explorer.models.base import VAEConfig


def _help(default: Any, text: str, **extra: Any) -> Any:
    """A dataclass field with its default and its help text."""
    return field(default=default, metadata={"help": text, **extra})


@dataclass
class AutoencoderKLConfig(VAEConfig):
    # the code's shape comes from latent_channels and the downsampling, not from latent_dim
    ignored_fields: ClassVar[tuple[str, ...]] = ("latent_dim",)

    likelihood: str = _help("gaussian", "autoencoder_kl: gaussian only (the decoder's sample, mapped to [0, 1], is "
                                        "the mean)", choices=("gaussian",))
    block_out_channels: tuple[int, ...] = _help((32, 64, 128), "autoencoder_kl: widths of the encoder's blocks (the "
                                                               "decoder mirrors them); each block after the first "
                                                               "halves the image side")
    layers_per_block: int = _help(1, "autoencoder_kl: resnet layers per encoder block (the decoder has one more)")
    latent_channels: int = _help(4, "autoencoder_kl: channels of the code map")
    norm_num_groups: int = _help(32, "autoencoder_kl: GroupNorm groups (must divide every block width)")
    mid_block_add_attention: bool = _help(False, "autoencoder_kl: self-attention in the mid blocks (off: the model is "
                                                 "fully convolutional, so whole photographs decode in memory linear "
                                                 "in their area)")
    scaling_factor: float = _help(1.0, "autoencoder_kl: diffusers' scaling_factor; codes = latent * scaling_factor "
                                       "(set after training from the latents' spread)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.block_out_channels = tuple(int(c) for c in self.block_out_channels)
        if self.likelihood != "gaussian":
            raise ValueError(f"autoencoder_kl: likelihood must be 'gaussian', got {self.likelihood!r}")
        if not self.block_out_channels or any(c < 1 for c in self.block_out_channels):
            raise ValueError(f"autoencoder_kl: block_out_channels must be positive widths, got {self.block_out_channels}")
        for name in ("layers_per_block", "latent_channels", "norm_num_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"autoencoder_kl: {name} must be a positive integer, got {value!r}")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError(f"autoencoder_kl: norm_num_groups {self.norm_num_groups} must divide every "
                             f"block_out_channels {self.block_out_channels}")
        factor = self.downsampling
        _, height, width = self.input_shape
        if height % factor or width % factor:
            raise ValueError(f"autoencoder_kl: the image size {height}x{width} must be a multiple of the "
                             f"downsampling factor {factor} (2 ** (len(block_out_channels) - 1))")
        if not self.scaling_factor > 0:
            raise ValueError(f"autoencoder_kl: scaling_factor must be positive, got {self.scaling_factor}")

    @property
    def downsampling(self) -> int:
        """f: how many image pixels one code cell spans per side."""
        return 2 ** (len(self.block_out_channels) - 1)

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """(latent_channels, H / f, W / f)."""
        _, height, width = self.input_shape
        return (self.latent_channels, height // self.downsampling, width // self.downsampling)
