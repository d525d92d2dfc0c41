"""Train any model of the zoo on any supported data set and write a checkpoint folder the app can load.

    python train.py --model conv --dataset mnist5k --latent-dim 16 --epochs 30 --out runs/conv-mnist5k
    python train.py --model mlp --dataset mnist5k --latent-dim 2 --epochs 5 --maps none --iwae-k 10 --out runs/quick
    python train.py --model conv --dataset cifar10 --data-root ~/data --download --out runs/cifar
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

TRAIN_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "lr_schedule", "grad_clip", "beta", "kl_schedule",
               "warmup_epochs", "free_bits", "free_bits_mode", "seed")
# model options given as their own flags; anything else goes through --set
MODEL_FLAGS = ("latent_dim", "hidden_sizes", "channels", "hidden_dim", "activation", "weight_norm", "batch_norm",
               "likelihood", "learn_scale", "init_log_scale")


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from explorer.data import available_datasets
    from explorer.models import available_families

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--model", required=True, choices=available_families(), help="model family")
    g.add_argument("--latent-dim", type=int, help="size of the latent code (vector families)")
    g.add_argument("--hidden-sizes", type=int_list, help="mlp: hidden widths, e.g. 512,256")
    g.add_argument("--channels", type=int_list, help="conv: conv widths, e.g. 32,64,128")
    g.add_argument("--hidden-dim", type=int, help="conv: width of the fully connected layer (0: none)")
    g.add_argument("--activation", help="relu, selu, elu or leaky_relu")
    g.add_argument("--weight-norm", action=argparse.BooleanOptionalAction, default=None, help="mlp: weight normalisation")
    g.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None, help="conv: batch norm")
    g.add_argument("--likelihood", choices=["bernoulli", "gaussian"], help="output likelihood (default: the data set's)")
    g.add_argument("--learn-scale", action=argparse.BooleanOptionalAction, default=None, help="gaussian: learn the scale")
    g.add_argument("--init-log-scale", type=float, help="gaussian: initial (or fixed) log standard deviation")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other field of the family's config, e.g. --set pool_size=3 (JSON values accepted)")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", required=True, choices=available_datasets(), help="data set name")
    d.add_argument("--data-root", help="folder of a local data set (mnist, fashion-mnist, cifar10, flowers102, folder, captions)")
    d.add_argument("--download", action="store_true", help="let torchvision download the data set into --data-root")
    d.add_argument("--image-size", type=int, help="resize images to this size (digits: up-sample; folders: resize)")
    d.add_argument("--labeled-fraction", type=float, help="share of training images that keep their label")
    d.add_argument("--captioned-fraction", type=float, help="share of training images that keep their captions")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--lr-schedule", choices=["cosine", "constant"], default="cosine")
    t.add_argument("--grad-clip", type=float, default=0.0, help="max gradient norm (0: off)")
    t.add_argument("--beta", type=float, default=1.0, help="KL weight")
    t.add_argument("--kl-schedule", choices=["constant", "linear", "cyclical"], default="constant", help="KL warm-up")
    t.add_argument("--warmup-epochs", type=float, default=0.0, help="linear: epochs to reach beta; cyclical: epochs per cycle")
    t.add_argument("--free-bits", type=float, default=0.0, help="KL floor in nats (per dimension or per sample)")
    t.add_argument("--free-bits-mode", choices=["dimension", "sample", "none"], default="dimension",
                   help="dimension: Kingma et al. 2016 floor per latent dimension (batch mean); sample: seed 001's floor per sample")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--threads", type=int, help="CPU threads for torch")
    t.add_argument("--compile", action="store_true",
                   help="compile the family's training kernels with torch.compile where it has any (pu: the relaxed "
                        "stochastic pooling; some seconds once, needs a C++ compiler on the CPU)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--no-tensorboard", action="store_true", help="skip TensorBoard logs")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="output folder (the final checkpoint)")
    o.add_argument("--iwae-k", type=int, default=1000, help="importance samples for the log-likelihood estimate (0: skip)")
    o.add_argument("--maps", default="pca,umap", help="2-D maps to precompute: any of pca,umap,tsne, or none")
    return p


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(t) if t.strip().lstrip("-").replace(".", "", 1).isdigit() else t for t in text.split(",")] if "," in text else text


def model_values(args: argparse.Namespace, cls: type, data: Any) -> dict[str, Any]:
    """The family's config values: derived from the data, then explicit flags, then --set overrides."""
    known = {f.name for f in fields(cls.config_class)}
    values: dict[str, Any] = {"input_shape": data.image_shape, "likelihood": data.likelihood}
    for name in MODEL_FLAGS:
        value = getattr(args, name)
        if value is None:
            continue
        if name not in known:
            raise ValueError(f"--{name.replace('_', '-')} does not apply to the {args.model!r} family")
        values[name] = value
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in known:
            raise ValueError(f"--set {key}: the {args.model!r} family has no such field; fields: {sorted(known)}")
        values[key] = parse_value(raw)
    return cls.adapt_config_to_data(values, data)


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from explorer.analysis.maps import parse_map_methods
    from explorer.checkpoint import read_config, resolve_device
    from explorer.data import load_dataset
    from explorer.export import export_model
    from explorer.heap import retain_freed_memory
    from explorer.models import get_model_class
    from explorer.training import STATE_DIR, Trainer, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    maps = parse_map_methods(args.maps)
    device = resolve_device(args.device)
    if device.type == "cpu":
        retain_freed_memory()  # no page faults on each step's fresh activations (explorer/heap.py)
    options = {k: getattr(args, k) for k in ("image_size", "labeled_fraction", "captioned_fraction") if getattr(args, k) is not None}
    data = load_dataset(args.dataset, root=args.data_root, download=args.download, **options)
    cls = get_model_class(args.model)
    config = cls.config_class.from_dict(model_values(args, cls, data))
    torch.manual_seed(args.seed)  # weight initialisation
    model = cls(config)
    if args.compile:
        compiled = model.compile_training_kernels()
        print(f"compiled: {', '.join(compiled)}" if compiled else
              f"--compile: nothing compiled for the {args.model!r} family; training runs eagerly", flush=True)
    train_cfg = TrainConfig(**{k: getattr(args, k) for k in TRAIN_FLAGS}, tensorboard=not args.no_tensorboard,
                            progress=not args.no_progress)
    out = Path(args.out)
    state = out / STATE_DIR
    if args.resume and (state / "config.json").is_file():
        saved = read_config(state)["config"]
        if saved != json.loads(json.dumps(config.to_dict())):
            raise ValueError(f"--resume: the checkpoint in {state} was made with a different model config; "
                             "use the same model options as the original run")
    elif not args.resume and state.exists():
        raise ValueError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    command = "python train.py " + shlex.join(argv)
    if args.resume and (state / "config.json").is_file():
        command = read_config(state).get("command", command)  # the card keeps the run's original command
    meta = {"name": data.name, "description": data.description, "options": options, "image_shape": list(data.image_shape),
            "classes": data.classes, "likelihood": data.likelihood}
    trainer = Trainer(model, data, train_cfg, out, device, checkpoint_extra={"dataset": meta, "command": command})

    def report(r) -> None:
        extra = " ".join(f"{k}={v:.3f}" for k, v in r.extra.items())
        print(f"epoch {r.epoch:3d}  loss {r.loss:9.3f}  nll {r.nll:9.3f}  kl {r.kl:7.3f}  beta {r.beta:.2f}  "
              f"test elbo {r.test_elbo:9.3f}  {r.seconds:5.1f}s  {extra}", flush=True)

    history = trainer.fit(resume=args.resume, on_epoch=report)
    # training time over every session of the run (a resumed run includes the epochs before the interruption)
    train_seconds = sum(r.seconds + r.eval_seconds for r in history)
    metrics = export_model(model, data, out, asdict(train_cfg), command, iwae_k=args.iwae_k, maps=maps,
                           train_seconds=train_seconds, device=str(device), dataset_meta=meta, seed=args.seed)
    headline = {k: metrics[k] for k in ("iwae_nll_nats", "iwae_bits_per_dim", "elbo_nats", "active_units") if metrics.get(k) is not None}
    print(f"wrote {out}: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in headline.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the last finished epoch is saved; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
