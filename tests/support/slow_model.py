"""A slow stand-in VAE for the never-freeze tests (registered as "slow-test"; importing this module registers it).

Its decoder is a list of blocks, each of which sleeps `seconds_per_block` (2 s in the app tests) and logs when it
ran, so a test can count the blocks that ran after a supersede. It declares a peak memory of `peak_gb` per
image (6 GB) through explorer.runtime.memory, so budgets and the up-front refusal can be tested without
allocating anything. Encoding is fast (one linear layer).

    model = build_model("slow-test", input_shape=(3, 32, 32), seconds_per_block=0.05)
    with watch(model, on_progress=...): model.decode(z)     # find_blocks(model) gives the decoder's blocks
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian
from explorer.models.base import VAE, Capabilities, VAEConfig
from explorer.models.registry import MODEL_REGISTRY, register_model
from explorer.runtime.memory import MemoryEstimate, parameter_bytes, register_peak_estimator

GB = 2**30


@dataclass
class SlowConfig(VAEConfig):
    input_shape: tuple[int, int, int] = (3, 32, 32)
    likelihood: str = "gaussian"
    latent_dim: int = 8
    blocks: int = field(default=4, metadata={"help": "decoder blocks (each one progress step)"})
    seconds_per_block: float = field(default=2.0, metadata={"help": "how long each decoder block sleeps"})
    peak_gb: float = field(default=6.0, metadata={"help": "declared peak memory of one image's decode, GB"})
    hidden: int = 4
    spatial: int = field(default=0, metadata={"help": "> 0: a spatial code (spatial, H/4, W/4), as an f4 VAE's; 0: a vector of latent_dim"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.spatial < 0 or self.spatial and (self.input_shape[1] % 4 or self.input_shape[2] % 4):
            raise ValueError("spatial >= 0, and a spatial code needs image sides that are multiples of 4")
        if self.blocks < 1 or self.seconds_per_block < 0 or not self.peak_gb > 0:
            raise ValueError("blocks >= 1, seconds_per_block >= 0 and peak_gb > 0 are required")


@dataclass(frozen=True)
class BlockRun:
    """One decoder block's run: its index, the thread, and when it started and ended (time.monotonic)."""

    index: int
    thread: int
    start: float
    end: float


class SlowBlock(nn.Module):
    """A 3x3 conv that first sleeps; appends a BlockRun to its owner's log."""

    def __init__(self, index: int, channels: int, config: SlowConfig, log: list[BlockRun]):
        super().__init__()
        self.index, self.config, self.log = index, config, log
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        start = time.monotonic()
        time.sleep(self.config.seconds_per_block)
        out = torch.tanh(self.conv(x))
        self.log.append(BlockRun(self.index, threading.get_ident(), start, time.monotonic()))
        return out


class SlowVAE(VAE):
    """Linear encoder; decoder: linear to a (hidden, H, W) map, `blocks` sleeping convs, a 1x1 conv to images."""

    family = "slow-test"
    config_class = SlowConfig
    config: SlowConfig

    def __init__(self, config: SlowConfig):
        super().__init__(config)
        c, h, w = config.input_shape
        dim = math.prod(self.latent_shape)
        self.enc = nn.Linear(c * h * w, 2 * dim)
        self.project = nn.Linear(dim, config.hidden * h * w)
        self.block_log: list[BlockRun] = []  # every decoder block that ran, in order (list.append is atomic)
        self.blocks = nn.ModuleList(SlowBlock(i, config.hidden, config, self.block_log) for i in range(config.blocks))
        self.to_image = nn.Conv2d(config.hidden, c, 1)

    @classmethod
    def config_capabilities(cls, config: SlowConfig) -> Capabilities:
        return Capabilities(spatial_code=config.spatial > 0)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        _c, h, w = self.config.input_shape
        return (self.config.spatial, h // 4, w // 4) if self.config.spatial else (self.config.latent_dim,)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        mean, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        return DiagonalGaussian(mean.view(-1, *self.latent_shape), logvar.view(-1, *self.latent_shape))

    def decode(self, z: Tensor):
        _c, h, w = self.config.input_shape
        x = self.project(z.flatten(1)).view(-1, self.config.hidden, h, w)
        for block in self.blocks:
            x = block(x)
        return self.make_likelihood(self.to_image(x))

    def blocks_after(self, moment: float) -> list[BlockRun]:
        """The block runs that started after `moment` (time.monotonic): what a superseded decode still computed."""
        return [run for run in list(self.block_log) if run.start > moment]


@register_peak_estimator(SlowVAE)
def slow_peak(model: SlowVAE, part: str, batch: int, image_hw: tuple[int, int]) -> MemoryEstimate:
    """The declared peak: peak_gb per image for a decode (scaled by pixels from the model's own size); encodes
    are small (one linear layer's input and output)."""
    _c, h, w = model.config.input_shape
    if part == "decode":
        activations = model.config.peak_gb * GB * batch * image_hw[0] * image_hw[1] / (h * w)
    else:
        activations = batch * 4 * (math.prod(model.config.input_shape) + 2 * math.prod(model.latent_shape))
    return MemoryEstimate(part, batch, tuple(image_hw), parameter_bytes(model), int(activations))


if SlowVAE.family not in MODEL_REGISTRY:
    register_model(SlowVAE)
