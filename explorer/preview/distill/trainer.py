"""Distillation proper: the student's training loop on latent crops, with checkpoints every few minutes and resume.

The teacher's work is shared between steps through a rolling bank of `bank_size` frames of `frame_cells` latent cells
(`FrameBank`): each frame is a training image cut to frame_cells * factor pixels (turned, and with its colours
permuted half the time), with the teacher's scaled latent and its decode of the whole frame. Each step replaces the
`refresh` oldest frames with new draws, then cuts `batch_size`
crops of `crop_cells` from random frames at random places (`crops.cut_crops`) and takes one Adam step on the
student's decoder loss on the crops' kept cells (`crops.decoder_losses`: the border of 4 cells is dropped at every
side of a crop that is not its frame's edge), and every `encoder_every` steps its encoder
loss too (`crops.encoder_losses`; the page needs the decoder, the encoder is TAESD's other half). Draw d and step s
take their randomness from generators seeded by (seed, d) and (seed, s), and the bank at step s is a function of s,
so a resumed run goes on exactly as the uninterrupted one would.

The learning rate warms up over 50 steps, then follows a cosine to 5% over the run, whose progress is the larger of
steps / max steps and seconds / the time budget.

Checkpoints (`<out>/checkpoint/`: the student as `save_pretrained` writes it, plus `state.pt` with the optimiser
state, step, seconds and history, read back with `torch.load(weights_only=True)`) are written every
`checkpoint_minutes`, at the end, and when the run is cancelled (`CancelToken`), then swapped in whole.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.files import atomic_folder_swap, atomic_write_with, fresh_folder_beside
from explorer.models.base import VAE
from explorer.preview.distill.crops import (MIN_BORDER, TeacherBatch, cut_crops, decoder_losses, encoder_losses,
                                            teacher_batch)
from explorer.preview.distill.folder import CHECKPOINT_DIR
from explorer.preview.distill.student import StudentSpec, build_student
from explorer.runtime.progress import Cancelled, CancelToken, Progress

STATE_NAME = "state.pt"
WARMUP_STEPS = 50
LR_FLOOR = 0.05  # the cosine ends at this fraction of lr
LOG_EVERY = 25  # steps between history records


@dataclass(frozen=True)
class DistillConfig:
    """How a student is trained (every field is a command-line option of vae-distill)."""

    crop_cells: int = 32  # latent cells a side of a training crop (128 px for an f4 teacher)
    border: int = MIN_BORDER  # cells dropped at each side of a crop's targets (at least 4)
    batch_size: int = 8  # crops per step
    frame_cells: int = 48  # latent cells a side of the frames the teacher encodes and decodes (192 px for f4)
    bank_size: int = 32  # frames kept
    refresh: int = 2  # frames replaced by new draws per refresh
    refresh_every: int = 1  # steps between refreshes (large frames cost the teacher more than a student step)
    colour_jitter: float = 0.0  # strength of a random per-channel gain and gamma on each frame (0: none)
    encoder_every: int = 4  # train the encoder on one step in this many
    lr: float = 2e-3  # Adam's peak learning rate
    minutes: float = 30.0  # training time budget, over every session of a resumed run
    max_steps: int = 0  # stop after this many steps as well (0: the time budget alone)
    checkpoint_minutes: float = 10.0  # write a checkpoint this often (and at the end)
    edge_weight: float = 0.1  # weight of the image-gradient L1 beside the decoder's MSE
    seed: int = 0  # crops, their order and the student's initial weights

    def __post_init__(self) -> None:
        if self.border < MIN_BORDER:
            raise ValueError(f"--border {self.border}: at least {MIN_BORDER} latent cells must be dropped at each side "
                             "of a crop's target (a crop's decode differs near its edge)")
        if self.crop_cells < 2 * self.border + 1:
            raise ValueError(f"--crop-cells {self.crop_cells}: a crop must be more than twice the border "
                             f"({2 * self.border} cells) a side, so that its interior is not empty")
        if self.frame_cells < self.crop_cells:
            raise ValueError(f"--frame-cells {self.frame_cells}: frames must be at least a crop ({self.crop_cells} "
                             "cells) a side")
        if self.bank_size < 1:
            raise ValueError(f"--bank-size {self.bank_size}: must be at least 1")
        if not 1 <= self.refresh <= self.bank_size:
            raise ValueError(f"--refresh {self.refresh}: must be from 1 to --bank-size ({self.bank_size})")
        if not 0.0 <= self.colour_jitter <= 0.9:
            raise ValueError(f"--colour-jitter {self.colour_jitter}: must be from 0 (none) to 0.9")
        if self.refresh_every < 1:
            raise ValueError(f"--refresh-every {self.refresh_every}: must be at least 1 step")
        if self.encoder_every < 1:
            raise ValueError(f"--encoder-every {self.encoder_every}: must be at least 1")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size {self.batch_size}: must be at least 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"--lr {self.lr}: must be a positive number")
        if not (self.minutes > 0 and math.isfinite(self.minutes)):
            raise ValueError(f"--minutes {self.minutes}: must be a positive number of minutes")
        if self.max_steps < 0:
            raise ValueError(f"--steps {self.max_steps}: must be 0 (no limit) or more")
        if not self.checkpoint_minutes > 0:
            raise ValueError(f"--checkpoint-minutes {self.checkpoint_minutes}: must be a positive number of minutes")
        if not (self.edge_weight >= 0 and math.isfinite(self.edge_weight)):
            raise ValueError(f"--edge-weight {self.edge_weight}: must be 0 or more")

    def fraction(self, step: int, seconds: float) -> float:
        """How far the run is, from 0 to 1: the larger of its steps and its seconds against their limits."""
        by_time = seconds / (60 * self.minutes)
        return min(1.0, max(by_time, step / self.max_steps if self.max_steps else 0.0))

    def lr_at(self, step: int, seconds: float) -> float:
        warm = min(1.0, (step + 1) / WARMUP_STEPS)
        cosine = LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * self.fraction(step, seconds)))
        return self.lr * warm * cosine


@dataclass
class TrainState:
    """Where a run stands (what a checkpoint holds beside the weights)."""

    step: int = 0
    seconds: float = 0.0  # training seconds over every session
    history: list[dict[str, float]] | None = None  # one record per LOG_EVERY steps


def draw_image(train_items: Any, draw: int, size: int, seed: int, colour_jitter: float = 0.0) -> torch.Tensor:
    """Draw number `draw` of a run: a random item of a data set of (image (C, H, W) in [0, 1], label) items, cut to
    (C, size, size) at a random place, turned by a random multiple of 90 degrees and, half the time, with its colour
    channels permuted (a handful of photographs then cover more of the colours and orientations the teacher is asked
    to decode); with colour_jitter j > 0, each channel c then becomes gain_c * x_c ** gamma_c, gain and gamma drawn
    from [1 - j, 1 + j], clipped to [0, 1]. The randomness comes from (seed, draw) alone."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + draw)
    image = train_items[int(torch.randint(0, len(train_items), (), generator=generator))][0]
    _, height, width = image.shape
    if height < size or width < size:
        raise ValueError(f"training images are {height}x{width}, smaller than a frame of {size} px (--frame-cells "
                         "times the teacher's factor); lower --frame-cells")
    top = int(torch.randint(0, height - size + 1, (), generator=generator))
    left = int(torch.randint(0, width - size + 1, (), generator=generator))
    image = image[:, top:top + size, left:left + size].float()
    image = torch.rot90(image, int(torch.randint(0, 4, (), generator=generator)), dims=(1, 2))
    if image.shape[0] > 1 and torch.rand((), generator=generator) < 0.5:
        image = image[torch.randperm(image.shape[0], generator=generator)]
    if colour_jitter > 0:  # drawn after the others, so a run without jitter draws what it always drew
        gain, gamma = (1 + colour_jitter * (2 * torch.rand(2, image.shape[0], 1, 1, generator=generator) - 1)).unbind(0)
        image = (gain * image.clamp_min(0) ** gamma).clamp(0, 1)
    return image.contiguous()


class FrameBank:
    """`size` frames with the teacher's codes and decodes; slot k holds the newest draw d = k (mod size) made so far.
    Draws 0 .. size - 1 fill it; refresh number r (before step r * every) replaces slots (r * per_step + j) mod size,
    j < per_step, with draws size + r * per_step + j. The frames held before a step depend on the step alone, so a
    resumed run sees the frames an unbroken one would."""

    def __init__(self, teacher: VAE, train_items: Any, frame_px: int, size: int, seed: int, step: int = 0,
                 per_step: int = 1, chunk: int = 8, every: int = 1, colour_jitter: float = 0.0):
        self.teacher, self.items, self.frame_px, self.size, self.seed = teacher, train_items, frame_px, size, seed
        self.per_step, self.every, self.jitter = per_step, every, colour_jitter
        # draws held before `step` trains: refreshes 0 .. ceil(step / every) - 1 are done; for slot k the largest
        # d < size + refreshes * per_step with d = k (mod size)
        top = size + -(-step // every) * per_step - 1
        draws = [top - ((top - k) % size) for k in range(size)]
        parts = [teacher_batch(teacher, torch.stack([draw_image(train_items, d, frame_px, seed, colour_jitter)
                                                     for d in group]))
                 for group in (draws[i:i + chunk] for i in range(0, size, chunk))]
        self.frames = TeacherBatch(*(torch.cat([getattr(p, f) for p in parts]) for f in ("images", "codes", "decodes")))

    def refresh(self, step: int) -> None:
        """Replace the per_step oldest frames with new draws (before step `step` trains), on every `every`-th step."""
        if step % self.every:
            return
        draws = [self.size + step // self.every * self.per_step + j for j in range(self.per_step)]
        new = teacher_batch(self.teacher, torch.stack([draw_image(self.items, d, self.frame_px, self.seed, self.jitter)
                                                       for d in draws]))
        for j, draw in enumerate(draws):
            for field in ("images", "codes", "decodes"):
                getattr(self.frames, field)[draw % self.size] = getattr(new, field)[j]


def pick_crops(step: int, config: "DistillConfig", bank_size: int) -> list[tuple[int, int, int]]:
    """The (frame, top cell, left cell) of step's crops, from a generator seeded by (seed, step)."""
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + 500_009 + step)
    room = config.frame_cells - config.crop_cells + 1
    return [(int(f), int(t), int(l)) for f, t, l in zip(torch.randint(0, bank_size, (config.batch_size,), generator=generator),
                                                        torch.randint(0, room, (config.batch_size,), generator=generator),
                                                        torch.randint(0, room, (config.batch_size,), generator=generator))]


def save_checkpoint(out: Path, student: nn.Module, optimizer: torch.optim.Optimizer, state: TrainState,
                    meta: dict[str, Any]) -> Path:
    """Write <out>/checkpoint (student folder + state.pt) under a temporary name, then swap it in whole."""
    tmp = fresh_folder_beside(out / CHECKPOINT_DIR)
    try:
        student.save_pretrained(str(tmp), safe_serialization=True)
        payload = {"step": state.step, "seconds": state.seconds, "history": state.history or [],
                   "optimizer": optimizer.state_dict(), **meta}
        atomic_write_with(tmp / STATE_NAME, lambda path: torch.save(payload, path))
        return atomic_folder_swap(tmp, out / CHECKPOINT_DIR)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_checkpoint(out: Path, spec: StudentSpec, teacher_digest: str) -> tuple[nn.Module, dict[str, Any]] | None:
    """(student, state payload) from <out>/checkpoint, or None when there is none. ValueError when it was made for
    another teacher or another student size."""
    from diffusers import AutoencoderTiny

    folder = out / CHECKPOINT_DIR
    if not (folder / STATE_NAME).is_file():
        return None
    payload = torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
    if payload.get("teacher_digest") != teacher_digest:
        raise ValueError(f"--resume: the checkpoint in {out} was distilled from another teacher (weights "
                         f"{str(payload.get('teacher_digest'))[:12]}, this one {teacher_digest[:12]}); "
                         "leave out --resume to start afresh, or choose another --out")
    try:  # a spec written before a field existed reads with that field's default
        same = StudentSpec.from_dict(payload.get("spec") or {}) == spec
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ValueError(f"--resume: the checkpoint in {out} is a student of another size ({payload.get('spec')}); "
                         "resume it with the same --width and --decoder-factor, or choose another --out")
    student = AutoencoderTiny.from_pretrained(str(folder), use_safetensors=True, local_files_only=True,
                                              low_cpu_mem_usage=False).float()
    return student, payload


def has_checkpoint(out: Path) -> bool:
    return (Path(out) / CHECKPOINT_DIR / STATE_NAME).is_file()


def train_student(teacher: VAE, teacher_digest: str, train_items: Any, spec: StudentSpec, config: DistillConfig,
                  out: str | Path, resume: bool = False, on_progress: Callable[[Progress], None] | None = None,
                  token: CancelToken | None = None, log: Callable[[str], None] | None = None,
                  on_checkpoint: Callable[[nn.Module, TrainState], None] | None = None) -> tuple[nn.Module, TrainState]:
    """Train (or, with resume, go on training) a student of `spec` for `teacher` on crops of `train_items` (a data set
    of (image, label) items, images (C, H, W) in [0, 1] at least crop_cells * factor px a side), checkpointing
    into <out>/checkpoint. Returns (student in eval mode, final state).

    on_progress gets a Progress after every step (done/total in per-mille of the run); token cancels between steps:
    a checkpoint is written, then `Cancelled` is raised. log gets one line per checkpoint."""
    out = Path(out)
    device = teacher.device
    meta = {"teacher_digest": teacher_digest, "spec": spec.to_dict(), "config": asdict(config)}
    state = TrainState(history=[])
    loaded = load_checkpoint(out, spec, teacher_digest) if resume else None
    if not resume and has_checkpoint(out):
        raise ValueError(f"{out} holds a checkpoint already: add --resume to go on with it, or choose another --out")
    student = loaded[0] if loaded else build_student(spec, config.seed)
    student.to(device).train()
    optimizer = torch.optim.Adam(student.parameters(), lr=config.lr)
    if loaded:
        payload = loaded[1]
        optimizer.load_state_dict(payload["optimizer"])
        state = TrainState(int(payload["step"]), float(payload["seconds"]), list(payload.get("history") or []))
        if log:
            log(f"resumed from {out / CHECKPOINT_DIR} at step {state.step} ({state.seconds / 60:.1f} min trained)")
    bank = FrameBank(teacher, train_items, config.frame_cells * spec.factor, config.bank_size, config.seed, state.step,
                     config.refresh, every=config.refresh_every, colour_jitter=config.colour_jitter)
    session_start = time.perf_counter()
    seconds_at_start = state.seconds
    last_checkpoint = time.perf_counter()
    running: dict[str, tuple[float, int]] = {}

    def checkpoint(reason: str) -> None:
        nonlocal last_checkpoint
        save_checkpoint(out, student, optimizer, state, meta)
        last_checkpoint = time.perf_counter()
        if on_checkpoint is not None:
            on_checkpoint(student, state)
        if log:
            log(f"checkpoint ({reason}) at step {state.step}, {state.seconds / 60:.1f} min: {out / CHECKPOINT_DIR}")

    while config.fraction(state.step, state.seconds) < 1.0:
        if token is not None and token.cancelled:
            checkpoint("cancelled")
            student.eval()
            token.raise_if_cancelled()
        bank.refresh(state.step)
        batch = cut_crops(bank.frames, pick_crops(state.step, config, config.bank_size), config.crop_cells, spec.factor,
                          config.border)
        for group in optimizer.param_groups:
            group["lr"] = config.lr_at(state.step, state.seconds)
        dec = decoder_losses(student, batch, spec.factor, config.edge_weight, spec.decoder_factor)
        loss = dec["loss"].mean()
        terms = {"mse": dec["mse"], "edge": dec["edge"]}
        if state.step % config.encoder_every == 0:
            terms["latent_mse"] = encoder_losses(student, batch)["latent_mse"]
            loss = loss + terms["latent_mse"].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        state.seconds = seconds_at_start + time.perf_counter() - session_start
        for name, value in terms.items():
            total, count = running.get(name, (0.0, 0))
            running[name] = (total + float(value.detach().mean()), count + 1)
        if state.step % LOG_EVERY == 0:
            record = {k: total / count for k, (total, count) in running.items()}
            record.update(step=state.step, seconds=round(state.seconds, 1),
                          crop_psnr_db=10 * math.log10(1 / max(record["mse"], 1e-12)))
            state.history.append(record)
            running.clear()
        if on_progress is not None:
            fraction = config.fraction(state.step, state.seconds)
            elapsed = state.seconds
            eta = elapsed / fraction * (1 - fraction) if fraction > 0 else None
            on_progress(Progress(int(1000 * fraction), 1000, elapsed, eta, f"step {state.step}"))
        if time.perf_counter() - last_checkpoint >= 60 * config.checkpoint_minutes:
            checkpoint("timer")
    checkpoint("end")
    student.eval()
    return student, state


__all__ = ["DistillConfig", "FrameBank", "TrainState", "draw_image", "pick_crops", "has_checkpoint", "load_checkpoint", "save_checkpoint",
           "train_student", "Cancelled"]
