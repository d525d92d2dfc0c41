"""A model-agnostic trainer: ELBO with beta, KL warm-up, free bits; TensorBoard logs; atomic resumable state.

The trainer only calls the model interface: `configure_optimizers` once, then `training_step(batch, objective,
optimizers, generator)` per batch (the base class's step is the ELBO with beta and free bits from `loss_terms`;
families with labels or captions add their own per-sample terms there, and a family with several losses
overrides the step). Every random draw is a function of the seed and the epoch: the shuffle is
DistributedSampler's (seed + epoch), and for a family that declares `item_keyed_noise` the binarisation and
reparameterisation noise of item i is drawn from (seed, epoch, i) (explorer.distributions.ItemNoise), so a
resumed run continues exactly where it stopped and a run over N processes (torchrun; explorer.distributed)
draws the same noise as one process at the same global batch (`batch_size` is the global batch: each process
takes batch_size / N items of it). Rank 0 alone writes checkpoints and logs; the other processes wait.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

from explorer.checkpoint import WEIGHTS_NAME, load_weights, save_pretrained
from explorer.data.base import DataSplit, stack_images
from explorer.files import atomic_folder_swap, atomic_write_with
from explorer.data.transforms import prepare_batch
from explorer.analysis.captions import epoch_summary
from explorer.analysis.evaluation import scoring_inputs
from explorer.distributed import Distributed, check_replicas, ddp_forward, wrap
from explorer.distributions import ItemNoise
from explorer.losses import BetaSchedule
from explorer.models.base import VAE, StepObjective

STATE_DIR = "checkpoint"
STATE_NAME = "train_state.pt"


LOCK_NAME = ".lock"


class RunLockedError(ValueError):
    """Another live process is training into the same output folder."""


def lock_run(out_dir: str | Path):
    """Hold an exclusive lock on OUT/.lock (with this PID in it) for as long as the returned file stays open.

    The lock is an fcntl.flock, which the kernel drops when its process ends, so a crashed or killed run never
    leaves a stale lock: the file may stay, but the next run takes the lock at once. Raises RunLockedError
    (naming the holder's PID) when a live run holds it."""
    import fcntl
    import os

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    handle = open(path, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RunLockedError(f"{out_dir} is in use by another training run (PID {holder}, lock {path}); wait for it "
                             "to finish, or choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _help(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the help train.py shows for the field's generated option (and optional choices)."""
    return {"help": text, **extra}


@dataclass
class TrainConfig:
    """How a model is trained. train.py makes one --kebab-case option per field, with the help below.

    The defaults are one recipe that works without knowing the data: batch 64, Adam with a cosine learning-rate
    decay, and a linear KL warm-up over the first third of the run, so the posterior does not collapse while the
    decoder is still poor, yet even a 1-epoch run ends at the full KL weight.
    """

    epochs: int = field(default=10, metadata=_help("passes over the training data"))
    batch_size: int = field(default=64, metadata=_help("images per optimisation step"))
    lr: float = field(default=1e-3, metadata=_help("Adam learning rate"))
    weight_decay: float = field(default=0.0, metadata=_help("Adam weight decay"))
    lr_schedule: str = field(default="cosine", metadata=_help("cosine: decay to lr/20 over the run; constant",
                                                               choices=("cosine", "constant")))
    grad_clip: float = field(default=0.0, metadata=_help("max gradient norm (0: off)"))
    beta: float = field(default=1.0, metadata=_help("weight of the KL term (beta-VAE; 1: the ELBO)"))
    kl_schedule: str = field(default="linear", metadata=_help(
        "KL weight over the run: linear warm-up from 0 to beta, cyclical (Fu et al. 2019) or constant",
        choices=("linear", "cyclical", "constant")))
    warmup_epochs: float | None = field(default=None, metadata=_help(
        "linear: epochs to reach beta; cyclical: epochs per cycle (default: a third of --epochs)"))
    free_bits: float = field(default=0.0, metadata=_help("KL floor in nats, per latent dimension or per sample (0: off)"))
    free_bits_mode: str = field(default="dimension", metadata=_help(
        "dimension: Kingma et al. 2016 floor per latent dimension (batch mean); sample: a floor on each sample's "
        "total KL",
        choices=("dimension", "sample", "none")))
    seed: int = field(default=0, metadata=_help("seed of weight initialisation, shuffling and every training draw"))
    log_every: int = field(default=10, metadata=_help("steps between progress-bar updates"))
    tensorboard: bool = field(default=True, metadata=_help("write TensorBoard logs to OUT/logs"))
    amp: str = field(default="off", metadata=_help(
        "mixed precision on CUDA: bf16, or fp16 with a gradient scaler; off (float32). Refused on CPU and MPS",
        choices=("off", "bf16", "fp16")))
    workers: int = field(default=0, metadata=_help(
        "DataLoader worker processes per training process (0: load in the training process); images are read "
        "from disk item by item, so a folder larger than memory streams"))
    progress: bool = field(default=True, metadata=_help("show a progress bar"))

    def __post_init__(self) -> None:
        def number(name: str, value: Any, low: float, strict: bool, integer: bool = False) -> None:
            kind = "an integer" if integer else "a number"
            if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
                raise ValueError(f"--{name.replace('_', '-')} must be {kind}, got {value!r}")
            if not math.isfinite(value) or (value <= low if strict else value < low):
                bound = f"{'above' if strict else 'at least'} {low:g}"
                raise ValueError(f"--{name.replace('_', '-')} must be {bound}, got {value!r}")

        number("epochs", self.epochs, 0, True, integer=True)
        number("batch_size", self.batch_size, 0, True, integer=True)
        number("log_every", self.log_every, 0, True, integer=True)
        number("workers", self.workers, 0, False, integer=True)
        number("seed", self.seed, 0, False, integer=True)
        number("lr", self.lr, 0, True)
        for name in ("weight_decay", "grad_clip", "beta", "free_bits"):
            number(name, getattr(self, name), 0, False)
        if self.warmup_epochs is not None:
            number("warmup_epochs", self.warmup_epochs, 0, False)
        for name, f in self.__dataclass_fields__.items():
            choices = f.metadata.get("choices")
            if choices and getattr(self, name) not in choices:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                                 f"got {getattr(self, name)!r}")

    @property
    def effective_warmup_epochs(self) -> float:
        """warmup_epochs, or a third of the run when unset: the warm-up scales with the run's length."""
        return self.epochs / 3 if self.warmup_epochs is None else float(self.warmup_epochs)

    def beta_schedule(self, steps_per_epoch: int) -> BetaSchedule:
        """The KL weight per step for a run of `steps_per_epoch` steps per epoch.

        The default warm-up lasts floor(total / 3) steps, so the last step (index total - 1) always has beta.
        """
        return BetaSchedule(self.beta, self.kl_schedule, int(self.effective_warmup_epochs * steps_per_epoch))


@dataclass
class EpochRecord:
    epoch: int
    step: int
    beta: float
    loss: float
    nll: float
    kl: float
    extra: dict[str, float] = field(default_factory=dict)
    test_elbo: float = math.nan
    seconds: float = 0.0
    eval_seconds: float = 0.0


def make_loader(dataset: Any, batch_size: int, shuffle: bool, generator: torch.Generator | None, collate_fn=None) -> DataLoader:
    """A plain in-process DataLoader (the benchmark's hand-written loop uses it)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=shuffle, collate_fn=collate_fn)


def shard_batches(dataset: Any, global_batch: int, context: Distributed, seed: int) -> tuple[DistributedSampler, BatchSampler]:
    """This process's share of each epoch: DistributedSampler's seeded shuffle (call `set_epoch`), cut into
    batches of global_batch / world_size. Step j of every process covers positions j*G .. (j+1)*G - 1 of the
    epoch's permutation, so the processes together see exactly a one-process run's batches."""
    sampler = DistributedSampler(dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True,
                                 seed=seed, drop_last=True)
    return sampler, BatchSampler(sampler, global_batch // context.world_size, drop_last=True)


def recorded_layout(state_dir: Path) -> tuple[int, int] | None:
    """(world size, global batch) a checkpoint was trained with; None without a checkpoint or a record."""
    path = state_dir / STATE_NAME
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return (int(state["world_size"]), int(state["global_batch"])) if "global_batch" in state else None


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the torch generator of a family without item-keyed noise, per (seed, epoch, process)."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Trains one model on one data split; `fit()` returns the per-epoch history."""

    def __init__(self, model: VAE, data: DataSplit, config: TrainConfig, out_dir: str | Path, device: torch.device,
                 checkpoint_extra: dict[str, Any] | None = None, context: Distributed | None = None):
        self.context = context or Distributed()
        self.model = model.to(device)
        self.data = data
        self.cfg = config
        self.out_dir = Path(out_dir)
        self.device = device
        self.checkpoint_extra = checkpoint_extra or {}
        self.likelihood = model.config.likelihood
        if not model.capabilities().trainable:
            raise ValueError(f"the {model.family!r} model was trained elsewhere and cannot be trained here; "
                             "evaluate it with python -m explorer.cli.evaluate")
        world = self.context.world_size
        if config.batch_size % world:
            raise ValueError(self._uneven_batch_message())
        if config.amp != "off" and device.type != "cuda":
            raise ValueError(f"--amp {config.amp} is for CUDA devices, and this run is on {device.type}: pass "
                             "--amp off to train in float32 there (or train on a CUDA GPU)")
        if config.amp == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError("--amp bf16: this GPU has no bfloat16 support; use --amp fp16")
        self.amp_dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[config.amp]
        self.scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" else None
        self.item_noise = model.capabilities().item_keyed_noise
        self.noise_gen = torch.Generator(device=device)  # families without item-keyed noise; seeded per epoch
        self.sampler, self.batches = shard_batches(data.train, config.batch_size, self.context, config.seed)
        self.loader = DataLoader(data.train, batch_sampler=self.batches, collate_fn=data.collate_fn,
                                 num_workers=config.workers, pin_memory=device.type == "cuda",
                                 persistent_workers=config.workers > 0)
        self.steps_per_epoch = max(1, len(self.batches))
        total = self.steps_per_epoch * config.epochs
        self.ddp = wrap(self.model, device) if self.context.initialised else None
        if world > 1 and not self.item_noise and self.context.is_main:
            print(f"note: the {model.family!r} family draws its training noise from one generator per process, so "
                  f"its noise over {world} processes differs from a one-process run's", flush=True)
        self.optimizers = model.configure_optimizers(config.lr, config.weight_decay)
        self.schedulers = {
            name: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total), eta_min=config.lr / 20)
            for name, opt in self.optimizers.items()
        } if config.lr_schedule == "cosine" else {}
        self.beta_at = config.beta_schedule(self.steps_per_epoch)
        self.step = 0
        self.epoch = 0
        self.history: list[EpochRecord] = []
        self._writer = None
        # one fixed test batch for per-epoch quick scores and image logs
        test_x, test_labels = stack_images(data.test, limit=256)
        self.test_x = scoring_inputs(test_x, self.likelihood).to(device)
        self.test_labels = test_labels.to(device)
        # a conditional model is scored, reconstructed and sampled under the labels (its samples cycle the classes)
        self.n_conditions = model.capabilities().condition_classes

    # -- state ---------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.out_dir / STATE_DIR

    def _uneven_batch_message(self) -> str:
        world, batch = self.context.world_size, self.cfg.batch_size
        layout = recorded_layout(self.state_dir)
        if layout is not None:
            divisors = [n for n in range(1, layout[1] + 1) if layout[1] % n == 0]
            return (f"--resume: the run in {self.out_dir} was trained by {layout[0]} process(es) at a global batch "
                    f"of {layout[1]}, which {world} processes cannot share evenly; resume it with a number of "
                    f"processes that divides {layout[1]} ({', '.join(map(str, divisors[:8]))})")
        return (f"--batch-size {batch} is the global batch of one step and must divide evenly over the {world} "
                f"processes (each takes batch / processes): choose a multiple of {world}")

    def save_state(self) -> None:
        """Write weights + optimiser state into a fresh folder, then swap it in: never a torn checkpoint."""
        tmp = self.out_dir / f".{STATE_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        save_pretrained(self.model, tmp, self.checkpoint_extra)
        state = {
            "epoch": self.epoch,
            "step": self.step,
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: sched.state_dict() for name, sched in self.schedulers.items()},
            "history": [asdict(r) for r in self.history],
            "train_config": asdict(self.cfg),
            # the shuffle and the noise follow from (seed, epoch): a resume at another world size that divides
            # the global batch continues the same run
            "world_size": self.context.world_size,
            "global_batch": self.cfg.batch_size,
            **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
        }
        atomic_write_with(tmp / STATE_NAME, lambda path: torch.save(state, path))
        atomic_folder_swap(tmp, self.state_dir, old=self.out_dir / f".{STATE_DIR}.old")

    def load_state(self) -> bool:
        """Resume from the last complete checkpoint in out_dir; False when there is none."""
        folder = self.state_dir
        if not (folder / STATE_NAME).is_file():
            old = self.out_dir / f".{STATE_DIR}.old"  # interrupted between the two renames
            if not (old / STATE_NAME).is_file():
                return False
            folder = old
        state = torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
        recorded = int(state.get("global_batch", self.cfg.batch_size))
        if recorded != self.cfg.batch_size:
            raise ValueError(f"--resume: the run in {self.out_dir} was trained at a global batch of {recorded} "
                             f"({state.get('world_size', 1)} process(es)); resume it with --batch-size {recorded}")
        if int(state.get("world_size", 1)) != self.context.world_size and self.context.is_main:
            print(f"resuming a run of {state.get('world_size', 1)} process(es) on {self.context.world_size}: the "
                  f"same global batch {recorded}, {recorded // self.context.world_size} per process", flush=True)
        self.model.load_state_dict(load_weights(folder / WEIGHTS_NAME, "cpu"))
        self.model.to(self.device)
        saved = state.get("optimizers") or {"vae": state["optimizer"]}  # runs saved before several optimisers
        for name, opt in self.optimizers.items():
            opt.load_state_dict(saved[name])
        saved_schedulers = state.get("schedulers") or ({"vae": state["scheduler"]} if state.get("scheduler") else {})
        for name, sched in self.schedulers.items():
            if name in saved_schedulers:
                sched.load_state_dict(saved_schedulers[name])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = [EpochRecord(**r) for r in state["history"]]
        return True

    # -- logging -------------------------------------------------------------------------------
    @property
    def writer(self):
        if self._writer is None and self.cfg.tensorboard and self.context.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.out_dir / "logs"), purge_step=self.step or None)
        return self._writer

    @torch.no_grad()
    def _epoch_eval(self, record: EpochRecord) -> None:
        self.model.eval()
        gen = torch.Generator(device=self.device).manual_seed(0)
        batch = (self.test_x, self.test_labels) if self.n_conditions else (self.test_x,)
        terms = self.model.loss_terms(batch, gen) if not self.data.collate_fn else None
        if terms is not None:
            record.test_elbo = float(-(terms["nll"] + terms["kl_dims"].sum(1)).mean())
        summary = epoch_summary(self.model, self.data, self.device)
        w = self.writer
        if w is not None:
            w.add_scalar("train/loss", record.loss, record.epoch)
            w.add_scalar("train/nll", record.nll, record.epoch)
            w.add_scalar("train/kl", record.kl, record.epoch)
            w.add_scalar("train/beta", record.beta, record.epoch)
            for key, value in record.extra.items():
                w.add_scalar(f"train/{key}", value, record.epoch)
            if not math.isnan(record.test_elbo):
                w.add_scalar("test/elbo", record.test_elbo, record.epoch)
            from torchvision.utils import make_grid

            x = self.test_x[:16]
            given = {"condition": self.test_labels[:16]} if self.n_conditions else {}
            recon = self.model.reconstruct(x, **given)
            w.add_image("reconstructions", make_grid(torch.cat([x, recon]).cpu(), nrow=16), record.epoch)
            classes = {"condition": torch.arange(32, device=self.device) % self.n_conditions} if self.n_conditions else {}
            samples = self.model.sample(32, generator=torch.Generator(device=self.device).manual_seed(0), **classes)
            w.add_image("prior_samples", make_grid(samples.cpu(), nrow=16), record.epoch)
            for key, value in summary.items():
                if isinstance(value, (int, float)):
                    w.add_scalar(f"summary/{key}", value, record.epoch)
                else:
                    w.add_text(f"summary/{key}", str(value), record.epoch)
            w.flush()
        for key, value in summary.items():
            if isinstance(value, (int, float)):
                record.extra[f"epoch_{key}"] = float(value)

    # -- training ------------------------------------------------------------------------------
    def train_epoch(self) -> EpochRecord:
        """One pass over the training data; returns its averaged loss terms."""
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        n_batches = 0
        t0 = time.perf_counter()
        bar = None
        self.sampler.set_epoch(self.epoch)
        self.noise_gen.manual_seed(epoch_seed(self.cfg.seed, self.epoch, self.context.rank))
        # the items of each step, in the loader's order (the batch sampler is deterministic for an epoch)
        item_batches = iter(list(self.batches)) if self.item_noise else None
        if self.cfg.progress and self.context.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", leave=False, dynamic_ncols=True)
        beta = self.beta_at(self.step)
        for batch in self.loader:
            batch = to_device(batch, self.device)
            noise = ItemNoise(self.cfg.seed, self.epoch, next(item_batches)) if item_batches else self.noise_gen
            x = prepare_batch(batch[0], self.likelihood, noise)
            batch = (x, *batch[1:])
            beta = self.beta_at(self.step)
            objective = StepObjective(beta, self.cfg.free_bits, self.cfg.free_bits_mode, self.cfg.grad_clip,
                                      scaler=self.scaler)
            with self._autocast(), ddp_forward(self.model, self.ddp):
                logged = self.model.training_step(batch, objective, self.optimizers, noise)
            if self.scaler is not None:
                self.scaler.update()
            for sched in self.schedulers.values():
                sched.step()
            self.step += 1
            n_batches += 1
            for key, value in logged.items():
                sums[key] = sums.get(key, 0.0) + value
            if bar is not None:
                bar.update(1)
                if n_batches % self.cfg.log_every == 0:
                    bar.set_postfix({k: f"{float(v) / n_batches:.2f}" for k, v in sums.items()} | {"beta": f"{beta:.2f}"})
        if bar is not None:
            bar.close()
        keys = sorted(sums)
        if keys:  # each process's mean over its shard; their mean is the global batch's
            totals = self.context.mean(torch.stack([torch.as_tensor(sums[k], dtype=torch.float64).to(self.device)
                                                    for k in keys]))
            sums = dict(zip(keys, totals.tolist()))
        means = {k: float(v) / max(n_batches, 1) for k, v in sums.items()}
        self.epoch += 1
        return EpochRecord(
            epoch=self.epoch, step=self.step, beta=beta, loss=means.pop("loss", math.nan), nll=means.pop("nll", math.nan),
            kl=means.pop("kl", math.nan), extra=means, seconds=time.perf_counter() - t0,
        )

    def _autocast(self):
        """Mixed precision for the step (--amp bf16 / fp16 on CUDA); a no-op in float32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def fit(self, resume: bool = False, on_epoch: Callable[[EpochRecord], None] | None = None) -> list[EpochRecord]:
        """Train until cfg.epochs, checkpointing after every epoch. With resume, continue from out_dir's state.

        Under torchrun every process trains its shard; rank 0 alone evaluates, logs, checkpoints and calls
        `on_epoch`, while the others wait at a barrier (a resume reads the checkpoint in every process, so
        machines of a multi-machine run need --out on a shared file system)."""
        if self.context.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.load_state() and self.epoch >= self.cfg.epochs:
            return self.history
        while self.epoch < self.cfg.epochs:
            record = self.train_epoch()
            check_replicas(self.model, self.context)
            if self.context.is_main:
                t0 = time.perf_counter()
                self._epoch_eval(record)
                record.eval_seconds = time.perf_counter() - t0
            self.history.append(record)
            if self.context.is_main:
                self.save_state()
                if on_epoch:
                    on_epoch(record)
            self.context.barrier()
        if self._writer is not None:
            self._writer.close()
        return self.history
