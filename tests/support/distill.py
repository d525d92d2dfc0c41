"""A tiny teacher and a tiny distillation recipe for the distillation tests and bench --smoke (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

from explorer.preview.distill.trainer import DistillConfig
from tests.support.foreign_models import make_kl

# an f2 AutoencoderKL with 4 latent channels: 16 px images, a 4x8x8 latent
TINY_TEACHER = {"block_out_channels": (8, 16), "layers_per_block": 1, "norm_num_groups": 4, "latent_channels": 4,
                "sample_size": 16, "scaling_factor": 0.5, "shift_factor": 0.1}
# crops of 9 cells (18 px) with the 4-cell border: a 1x1-cell interior; frames of 10 cells (20 px)
TINY_RECIPE = DistillConfig(crop_cells=9, border=4, batch_size=2, frame_cells=10, bank_size=2, encoder_every=1,
                            minutes=60.0, max_steps=2, checkpoint_minutes=60.0)
TINY_WIDTH = 8


def make_teacher(folder: Path, seed: int = 0) -> Path:
    """The tiny teacher with seeded random weights, saved with save_pretrained into folder."""
    make_kl(folder, seed=seed, **TINY_TEACHER)
    return Path(folder)
