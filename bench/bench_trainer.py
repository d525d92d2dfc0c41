"""Trainer overhead: explorer's Trainer against a plain hand-written PyTorch loop of the same network.

Both use the same data pipeline (explorer.training.make_loader over mnist5k, dynamic binarisation) and the same
conv VAE; runs are interleaved (plain, trainer, plain, ...) so machine drift hits both alike. Reports the
median ratio of inner-loop throughput (trainer / plain), and the trainer's per-epoch extras (quick evaluation,
TensorBoard images, atomic checkpoint) separately.

    .venv/bin/python -m bench.bench_trainer --runs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Subset

from bench.cpu_options import add_cpu_options, apply_cpu_options
from bench.smoke import add_smoke_option, apply_smoke

from explorer.data import load_dataset
from explorer.models import build_model
from explorer.training import Trainer, TrainConfig, make_loader

MODEL = dict(latent_dim=16, channels=(32, 64, 128), hidden_dim=256)


def plain_epoch(data, batch_size: int, seed: int) -> float:
    """The loop a person would write by hand; returns images per second."""
    torch.manual_seed(seed)
    model = build_model("conv", input_shape=data.image_shape, **MODEL).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = make_loader(data.train, batch_size, True, torch.Generator().manual_seed(seed))
    n, t0 = 0, time.perf_counter()
    for x, _ in loader:
        x = torch.bernoulli(x)
        post = model.encode(x)
        z = post.mean + post.std * torch.randn_like(post.mean)
        nll = -model.decode(z).log_prob(x).flatten(1).sum(1)
        loss = (nll + post.kl().sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(x)
    return n / (time.perf_counter() - t0)


def trainer_epoch(data, batch_size: int, seed: int, out: Path) -> tuple[float, float]:
    """One epoch of the Trainer as train.py runs it; returns (images/s of the inner loop, extras seconds)."""
    torch.manual_seed(seed)
    model = build_model("conv", input_shape=data.image_shape, **MODEL)
    cfg = TrainConfig(epochs=1, batch_size=batch_size, seed=seed, progress=True, tensorboard=True)
    trainer = Trainer(model, data, cfg, out, torch.device("cpu"))
    record = trainer.train_epoch()
    n = trainer.steps_per_epoch * batch_size
    t0 = time.perf_counter()
    trainer._epoch_eval(record)
    trainer.history.append(record)
    trainer.save_state()
    return n / record.seconds, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--items", type=int, default=0, help="train on the first ITEMS images and test on as many (0: all)")
    add_cpu_options(ap)
    add_smoke_option(ap)
    # mnist5k: it loads in 0.1 s of CPU where digits imports scikit-learn (1 s); 256 items of it train in well under 1 s
    a = apply_smoke(ap.parse_args(), runs=1, dataset="mnist5k", items=256, batch_size=64)
    apply_cpu_options(a)
    data = load_dataset(a.dataset)
    if a.items:
        data = dataclasses.replace(data, train=Subset(data.train, range(min(a.items, len(data.train)))),
                                   test=Subset(data.test, range(min(a.items, len(data.test)))))
    plain, ours, extras = [], [], []
    if not a.smoke:
        plain_epoch(data, a.batch_size, 99)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.runs):
            plain.append(plain_epoch(data, a.batch_size, i))
            tput, extra = trainer_epoch(data, a.batch_size, i, Path(tmp) / f"run{i}")
            ours.append(tput)
            extras.append(extra)
            print(f"run {i}: plain {plain[-1]:7.0f} img/s   trainer {ours[-1]:7.0f} img/s   extras {extra:.2f} s", flush=True)
    ratios = [o / p for o, p in zip(ours, plain)]
    print(f"threads={torch.get_num_threads()} batch={a.batch_size} runs={a.runs}")
    print(f"plain loop   median {statistics.median(plain):.0f} img/s")
    print(f"Trainer      median {statistics.median(ours):.0f} img/s")
    print(f"median throughput ratio trainer/plain: {statistics.median(ratios):.3f} (target >= 0.92)")
    print(f"per-epoch extras (quick eval, TensorBoard images, atomic checkpoint): median {statistics.median(extras):.2f} s")


if __name__ == "__main__":
    main()
