"""Training past one process: the process group torchrun sets up, and DistributedDataParallel around a step.

`python -m torch.distributed.run --nproc_per_node N train.py ...` (torchrun) starts N copies of train.py with
RANK, LOCAL_RANK and WORLD_SIZE in their environment. `Distributed.from_environment` joins that group (gloo for
CPU tensors, NCCL for CUDA ones) and picks each process's device (cuda:LOCAL_RANK); without torchrun it is the
one-process context, rank 0 of 1, and nothing is initialised.

The model interface's `training_step` runs the forward pass, backward and the optimiser step itself, while
DistributedDataParallel expects to run the forward pass and leave backward to its caller: its reducer must be
told after each forward that a backward follows, or the gradients are silently not averaged.
`ddp_forward(model, ddp)` therefore routes the model's own `self(...)` calls inside a step through the DDP
wrapper (which then calls the family's forward), so a family's step runs unchanged under DDP, and
`check_replicas` verifies after each epoch that every process still holds the same weights.
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn

from explorer.models.base import VAE


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a (possibly one-process) training run."""

    rank: int = 0  # 0..world_size - 1; rank 0 writes checkpoints, logs and metrics
    world_size: int = 1
    local_rank: int = 0  # index of this process on its machine: its GPU
    initialised: bool = False  # a torch.distributed process group is up (launched by torchrun)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @staticmethod
    def launched() -> bool:
        """True when torchrun (or another launcher of the same protocol) started this process."""
        return "RANK" in os.environ and "WORLD_SIZE" in os.environ

    @classmethod
    def from_environment(cls, device: torch.device) -> tuple["Distributed", torch.device]:
        """Join torchrun's process group if it launched this process; returns the context and this process's
        device (CUDA: cuda:LOCAL_RANK). Raises ValueError for a device DDP cannot use here (MPS)."""
        if not cls.launched():
            return cls(), device
        rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
        if device.type == "mps":
            raise ValueError("torchrun on Apple MPS is not supported (no process-group backend reaches MPS "
                             "tensors): train on one process, or pass --device cpu to train on CPU processes")
        if device.type == "cuda":
            if local >= torch.cuda.device_count():
                raise ValueError(f"process {rank} has LOCAL_RANK {local}, but this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s): pass --nproc_per_node at most that")
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend=backend_for(device), device_id=device if device.type == "cuda" else None)
        return cls(rank=rank, world_size=world, local_rank=local, initialised=True), device

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for in a one-process run)."""
        if self.initialised:
            dist.barrier()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over processes of a tensor each process holds (itself in a one-process run)."""
        if not self.initialised or self.world_size == 1:
            return values
        out = values.clone()
        dist.all_reduce(out)
        return out / self.world_size

    def close(self) -> None:
        """Ends this process's part of the group, while the interpreter is whole.

        destroy_process_group only drops torch.distributed's own references to the group: the DDP wrapper's
        reducer holds another, and a wrapper left in a reference cycle (a module's hooks) lives on until the
        interpreter's teardown. The gloo group's C++ threads were then destroyed during finalisation, with tensors
        still in their work: a process aborted at exit ("terminate called without an active exception", SIGABRT)
        in about one torchrun job in thirty here. Collecting the cycles first frees the wrapper, so the group goes
        with destroy_process_group."""
        if self.initialised and dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()
            gc.collect()


def backend_for(device: torch.device) -> str:
    """The process-group backend for a device's tensors: NCCL for CUDA, gloo for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


def wrap(model: nn.Module, device: torch.device) -> nn.parallel.DistributedDataParallel:
    """DistributedDataParallel around the model (rank 0's weights are broadcast to every process here).

    find_unused_parameters stays off: the built-in families use every parameter in each step (a family that
    does not gets DDP's own error naming the parameters)."""
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


@contextlib.contextmanager
def ddp_forward(model: nn.Module, ddp: nn.parallel.DistributedDataParallel | None) -> Iterator[None]:
    """While active, `model(...)` runs through `ddp` (its pre-forward and post-forward hooks, then the family's
    own forward), so a `training_step` that calls `self(...)` and then backward synchronises its gradients.

    It shadows `forward` on the instance only for the step (nn.Module looks `forward` up on the instance);
    evaluation outside the step calls the family's forward directly and never waits for other processes."""
    if ddp is None:
        yield
        return
    family_forward = type(model).forward.__get__(model)
    inside = False

    def forward(*args, **kwargs):
        nonlocal inside
        if inside:  # DDP calling back into the module: the family's forward
            return family_forward(*args, **kwargs)
        inside = True
        try:
            return ddp(*args, **kwargs)
        finally:
            inside = False

    model.forward = forward
    try:
        yield
    finally:
        del model.forward


def check_replicas(model: VAE, context: Distributed) -> None:
    """Raise RuntimeError when processes hold different weights: the family's training step bypassed the
    synchronised forward (one all-reduce of a checksum per epoch)."""
    if not context.initialised or context.world_size == 1:
        return
    device = next(model.parameters()).device
    total = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    span = torch.stack([total, -total]).to(device)
    dist.all_reduce(span, op=dist.ReduceOp.MAX)
    if float(span[0] + span[1]) > 1e-9 * max(1.0, abs(float(total))):
        raise RuntimeError(f"the {model.family!r} model's weights differ between processes "
                           "after an epoch: its training_step must run its forward pass through self(...) so that "
                           "DistributedDataParallel averages the gradients")
