"""Train any model of the zoo on any supported data set and write a checkpoint folder the app can load.

    python train.py --model conv --dataset mnist5k --latent-dim 16 --epochs 30 --out runs/conv-mnist5k
    python train.py --model mlp --dataset mnist5k --latent-dim 2 --epochs 5 --maps none --iwae-k 10 --out runs/quick
    python train.py --model conv --dataset cifar10 --data-root ~/data --download --out runs/cifar

Under torchrun every process runs this script on its shard of each batch (--batch-size is the global batch):

    torchrun --standalone --nproc_per_node 4 train.py --model conv --dataset mnist5k --amp bf16 --out runs/ddp
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import types
import typing
from dataclasses import MISSING, Field, asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.analysis.maps import parse_map_methods
from explorer.checkpoint import read_config, resolve_device
from explorer.cli.errors import CliParser, parse_option, run_main
from explorer.cli.progress import Bars
from explorer.cli.report import collapse_warning, score_lines
from explorer.cli.threads import current_load, default_threads
from explorer.data import available_datasets, load_dataset
from explorer.denormals import flush_denormals
from explorer.distributed import Distributed
from explorer.heap import retain_freed_memory
from explorer.models import available_families, get_model_class
from explorer.run_folder import export_model
from explorer.training import STATE_DIR, TrainConfig, Trainer, lock_run

if TYPE_CHECKING:  # typing only: the CLI imports torch once the options are checked
    import torch

# Options are generated from the config dataclasses: one --kebab-case option per field of TrainConfig and of every
# registered family's config class, with the help in the field's metadata. These model fields come from the data
# set instead (no option; --set still reaches them) or take their default from it:
DATA_FIELDS = ("input_shape",)
DATA_DEFAULTS = {"likelihood": "the data set's"}
THREADS_HELP = ("CPU threads for torch (default: one per core, fewer when the load average says other processes keep "
                "cores busy: a 1-epoch conv run on mnist5k on a shared 2-core machine at load 10 took 24 s on 1 "
                "thread, the default there, and 116 s on 2; docs/training.md, Threads)")


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def str_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def option_kwargs(annotation: Any) -> dict[str, Any] | None:
    """argparse keywords for a field of this type; None for a type only --set can give (JSON)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None: the option gives an X
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float, str):
        return {"type": annotation}
    if typing.get_origin(annotation) is tuple:
        items = set(typing.get_args(annotation)) - {Ellipsis}
        if items == {int}:
            return {"type": int_list, "metavar": "N,N,..."}
        if items == {str}:
            return {"type": str_list, "metavar": "A,B,..."}
    return None


def config_fields(config_class: type) -> list[tuple[Field, Any]]:
    """(field, resolved type) of each field of a config dataclass."""
    hints = typing.get_type_hints(config_class)
    return [(f, hints[f.name]) for f in fields(config_class)]


def field_default(f: Field) -> Any:
    return f.default if f.default is not MISSING else f.default_factory() if f.default_factory is not MISSING else None


def show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def model_option_fields(family: str, config_class: type) -> dict[str, tuple[Field, Any]]:
    """The fields of a family's config that options may set: not derived from the data, not ignored by the family."""
    ignored = set(config_class.ignored_fields)
    return {f.name: (f, t) for f, t in config_fields(config_class) if f.name not in ignored and f.name not in DATA_FIELDS}


def add_model_options(group: argparse._ArgumentGroup, classes: dict[str, type], taken: set[str]) -> list[str]:
    """One option per model field of any family (its help per family where they differ); returns the field names."""
    by_name: dict[str, dict[str, tuple[Field, Any]]] = {}
    for family, config_class in classes.items():
        for name, entry in model_option_fields(family, config_class).items():
            by_name.setdefault(name, {})[family] = entry
    added = []
    for name, per_family in by_name.items():
        if flag(name) in taken:  # a model field named like a training or train.py option: --set reaches it
            continue
        kinds = {repr(option_kwargs(t)) for _, t in per_family.values()}
        kwargs = option_kwargs(next(iter(per_family.values()))[1]) if len(kinds) == 1 else None
        kwargs = kwargs or {"type": parse_value, "metavar": "JSON"}  # e.g. types that differ between families
        choices = {tuple(f.metadata.get("choices", ())) for f, _ in per_family.values()}
        if len(choices) == 1 and next(iter(choices)) and kwargs.get("type") is str:
            kwargs["choices"] = next(iter(choices))
        if "choices" not in kwargs:
            kwargs.setdefault("metavar", name.upper())
        # families that share a help text share one entry; a field without help (yet) shows its name
        texts: dict[str, list[str]] = {}
        for family, (f, _) in per_family.items():
            texts.setdefault(f.metadata.get("help", name), []).append(family)
        parts = []
        for text, families in texts.items():
            defaults = {fam: DATA_DEFAULTS.get(name, show(field_default(per_family[fam][0]))) for fam in families}
            shown = (next(iter(defaults.values())) if len(set(defaults.values())) == 1
                     else ", ".join(f"{fam} {d}" for fam, d in defaults.items()))
            prefix = "" if len(per_family) == len(classes) and len(texts) == 1 else ", ".join(families) + ": "
            if text.startswith(prefix):  # the help names its family already ("cvae: ...")
                prefix = ""
            parts.append(f"{prefix}{text} (default: {shown or 'none'})")
        if kwargs.get("action"):
            kwargs.pop("metavar", None)
        group.add_argument(flag(name), dest=f"model.{name}", default=None, help="; ".join(parts).replace("%", "%%"),
                           **kwargs)
        taken.add(flag(name))
        added.append(name)
    return added


def add_train_options(group: argparse._ArgumentGroup, taken: set[str]) -> None:
    """One option per TrainConfig field, defaulting to the field's default."""
    for f, annotation in config_fields(TrainConfig):
        kwargs = option_kwargs(annotation) or {"type": parse_value, "metavar": "JSON"}
        if f.metadata.get("choices") and kwargs.get("type") is str:
            kwargs["choices"] = tuple(f.metadata["choices"])
        text = f.metadata.get("help", f.name)
        default = field_default(f)
        if "choices" not in kwargs:
            kwargs.setdefault("metavar", f.name.upper())
        if kwargs.get("action"):
            kwargs.pop("metavar", None)
        shown = "" if default is None else f" (default: {show(default)})"
        group.add_argument(flag(f.name), dest=f"train.{f.name}", default=default,
                           help=f"{text}{shown}".replace("%", "%%"), **kwargs)
        taken.add(flag(f.name))


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model", "one option per field of each family's config dataclass; the family's "
                             "default where not given")
    g.add_argument("--model", required=True, choices=available_families(), help="model family")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any field of the family's config, e.g. --set pool_size=3 (JSON values accepted)")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", required=True, choices=available_datasets(), help="data set name")
    d.add_argument("--data-root", help="folder of a local data set (mnist, fashion-mnist, cifar10, flowers102, folder, captions)")
    d.add_argument("--download", action="store_true", help="let torchvision download the data set into --data-root")
    d.add_argument("--image-size", type=int, help="resize images to this size (digits: up-sample; folders: resize)")
    d.add_argument("--labeled-fraction", type=float, help="share of training images that keep their label")
    d.add_argument("--captioned-fraction", type=float, help="share of training images that keep their captions")
    d.add_argument("--single-object", dest="single", action="store_const", const=True, default=None,
                   help="shapes: one object per image, with its known factors (colour, shape, size, position)")
    t = p.add_argument_group("training", "one option per field of explorer.training.TrainConfig")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--threads", type=int, help=THREADS_HELP)
    t.add_argument("--compile", action="store_true",
                   help="compile the family's training kernels with torch.compile where it has any (pu: the relaxed "
                        "stochastic pooling; some seconds once, needs a C++ compiler on the CPU)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--dry-run", action="store_true",
                   help="check the options against the family and print the settings; load no data, train nothing")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="output folder (the final checkpoint)")
    o.add_argument("--iwae-k", type=int, default=1000, help="importance samples for the log-likelihood estimate (0: skip)")
    o.add_argument("--maps", default="pca,umap", help="2-D maps to precompute: any of pca,umap,tsne, or none")
    taken = set(p._option_string_actions)
    add_train_options(t, taken)
    add_model_options(g, {family: get_model_class(family).config_class for family in available_families()}, taken)
    return p


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(t) if t.strip().lstrip("-").replace(".", "", 1).isdigit() else t for t in text.split(",")] if "," in text else text


def explicit_model_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The family's config values the command gives: the generated options, then --set. An option or key the
    family has no field for, or ignores (its config's `ignored_fields`), is refused."""
    config_class = cls.config_class
    known = {f.name for f in fields(config_class)}
    ignored = set(config_class.ignored_fields)
    usable = model_option_fields(args.model, config_class)
    hints = typing.get_type_hints(config_class)
    by_name = {f.name: f for f in fields(config_class)}

    def why_not(name: str) -> str:
        if name in ignored:
            return (f"the {args.model!r} family ignores {name} ({config_class.__name__}.ignored_fields): "
                    "its code shape comes from its other fields")
        return f"the {args.model!r} family has no such field; fields: {sorted(known - ignored)}"

    values: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith("model.") or value is None:
            continue
        name = dest.removeprefix("model.")
        if name not in usable:
            raise ValueError(f"{flag(name)} does not apply to the {args.model!r} family: {why_not(name)}")
        values[name] = coerce_value(flag(name), value, usable[name][1])
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in known or key in ignored:
            raise ValueError(f"--set {key}: {why_not(key)}")
        values[key] = coerce_value(f"--set {key}", raw, hints[key])
        choices = tuple(by_name[key].metadata.get("choices", ()))
        if choices and values[key] not in choices:
            raise ValueError(f"--set {key}={raw}: choose from {', '.join(map(str, choices))}")
    return values


def conforms(value: Any, annotation: Any) -> bool:
    """Whether a parsed value (JSON or an option's) has the config field's type."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if typing.get_origin(annotation) is tuple:
        items = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            return False
        if Ellipsis in items:
            return all(conforms(v, items[0]) for v in value)
        return len(value) == len(items) and all(conforms(v, a) for v, a in zip(value, items))
    return True  # a type the options do not describe: the config class checks it


def expected_form(annotation: Any) -> str:
    """What a value of this field type looks like on the command line, for error messages."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(expected_form(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        items = typing.get_args(annotation)
        plural = "integers" if items[0] is int else "names"
        if Ellipsis in items:
            return f"comma-separated {plural}, e.g. {'32,64' if items[0] is int else 'a,b'}"
        return f"{len(items)} comma-separated {plural}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "text",
            type(None): "null"}.get(annotation, str(annotation))


def coerce_value(option: str, raw: Any, annotation: Any) -> Any:
    """raw (a --set string, or an option's parsed value) as the field's type; ValueError naming option, value and
    the accepted form otherwise."""
    value = parse_value(raw) if isinstance(raw, str) else raw
    if annotation is str and isinstance(raw, str) and not isinstance(value, str):
        value = raw  # text that happens to read as JSON ("123") is still text
    if conforms(value, annotation):
        return value
    convert = (option_kwargs(annotation) or {}).get("type")
    if isinstance(raw, str) and convert is not None:
        try:
            value = convert(raw)
            if conforms(value, annotation):
                return value
        except (ValueError, argparse.ArgumentTypeError):
            pass
    if annotation is bool and isinstance(raw, str) and raw.lower() in ("true", "false", "yes", "no", "1", "0"):
        return raw.lower() in ("true", "yes", "1")
    shown = raw if isinstance(raw, str) else show(raw)
    raise ValueError(f"{option}={shown}: expected {expected_form(annotation)}")


def model_values(args: argparse.Namespace, cls: type, data: Any) -> dict[str, Any]:
    """The family's config values: derived from the data, then explicit options, then --set overrides."""
    values: dict[str, Any] = {"input_shape": data.image_shape, "likelihood": data.likelihood}
    values.update(explicit_model_values(args, cls))
    return cls.adapt_config_to_data(values, data)


def train_config(args: argparse.Namespace):
    return TrainConfig(**{k.removeprefix("train."): v for k, v in vars(args).items() if k.startswith("train.")})


def check_run_options(args: argparse.Namespace) -> None:
    """Refuse out-of-range train.py options (ValueError, exit status 2) before anything is loaded or written."""
    if args.iwae_k < 0:
        raise ValueError(f"--iwae-k must be 0 or more, got {args.iwae_k}")
    for name in ("threads", "image_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    for name in ("labeled_fraction", "captioned_fraction"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:  # NaN fails too
            raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")

    parse_option("--maps", args.maps, parse_map_methods)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    cls = get_model_class(args.model)
    explicit = explicit_model_values(args, cls)  # refuse a wrong option before any data is loaded
    train_cfg = train_config(args)  # TrainConfig refuses out-of-range values
    check_run_options(args)
    if args.dry_run:
        print(json.dumps({"model": args.model, "model_options": explicit, "training": asdict(train_cfg)}, default=list))
        return 0
    # under torchrun: join the process group (gloo on CPU, NCCL on CUDA); otherwise one process, rank 0 of 1
    context, device = Distributed.from_environment(resolve_device(args.device))
    try:
        return train(args, train_cfg, explicit, context, device, argv)
    finally:
        context.close()


def train(args: argparse.Namespace, train_cfg: "TrainConfig", explicit: dict[str, Any], context: "Distributed",
          device: "torch.device", argv: list[str]) -> int:
    """The run itself, in every process of a torchrun job; rank 0 alone locks --out, reports and exports."""
    import torch

    cls = get_model_class(args.model)
    flush_denormals()  # before torch's worker threads start, so that they inherit it (explorer/denormals.py)
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == "cpu":  # beside other busy processes, extra threads only wait on each other
        threads, note = default_threads(torch.get_num_threads(), load=current_load())
        torch.set_num_threads(threads)
        if note and context.is_main:
            print(note, file=sys.stderr, flush=True)
    maps = parse_option("--maps", args.maps, parse_map_methods)
    if device.type == "cpu":
        retain_freed_memory()  # no page faults on each step's fresh activations (explorer/heap.py)
    options = {k: getattr(args, k) for k in ("image_size", "labeled_fraction", "captioned_fraction", "single") if getattr(args, k) is not None}
    if args.download and not context.is_main:
        context.barrier()  # rank 0 downloads first; the others then read its files
    data = load_dataset(args.dataset, root=args.data_root, download=args.download, **options)
    if args.download and context.is_main:
        context.barrier()
    config = cls.config_class.from_dict(model_values(args, cls, data))
    torch.manual_seed(train_cfg.seed)  # weight initialisation
    model = cls(config)
    if args.compile:
        compiled = model.compile_training_kernels()
        print(f"compiled: {', '.join(compiled)}" if compiled else
              f"--compile: nothing compiled for the {args.model!r} family; training runs eagerly", flush=True)
    out = Path(args.out)
    # held until the process ends: a second run into --out is refused (rank 0 holds it for a torchrun job)
    lock = lock_run(out) if context.is_main else None  # noqa: F841
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
    trainer = Trainer(model, data, train_cfg, out, device, checkpoint_extra={"dataset": meta, "command": command},
                      context=context)

    def report(r) -> None:
        extra = " ".join(f"{k}={v:.3f}" for k, v in r.extra.items())
        print(f"epoch {r.epoch:3d}  loss {r.loss:9.3f}  nll {r.nll:9.3f}  kl {r.kl:7.3f}  beta {r.beta:.2f}  "
              f"test elbo {r.test_elbo:9.3f}  {r.seconds:5.1f}s  {extra}", flush=True)

    history = trainer.fit(resume=args.resume, on_epoch=report)
    if not context.is_main:
        context.barrier()  # rank 0 exports the final checkpoint
        return 0
    # training time over every session of the run (a resumed run includes the epochs before the interruption)
    train_seconds = sum(r.seconds + r.eval_seconds for r in history)
    recorded = asdict(replace(train_cfg, warmup_epochs=train_cfg.effective_warmup_epochs))  # the warm-up it had
    # the scores (IWAE-k over the test split) and the maps take minutes after the last epoch: show their bars
    bars = Bars(train_cfg.progress)
    bars.start_items(len(data.test), f"scoring {args.dataset} (test, IWAE-{args.iwae_k})")
    try:
        metrics = export_model(model, data, out, recorded, command, iwae_k=args.iwae_k, maps=maps,
                               train_seconds=train_seconds, device=str(device), dataset_meta=meta, seed=train_cfg.seed,
                               on_batch=bars.scored, map_progress=bars.map_progress)
    finally:
        bars.close()
    lines = score_lines(metrics)
    print(f"wrote {out}: {lines[0]}", *lines[1:], sep="\n")
    warning = collapse_warning(metrics)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    context.barrier()
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `vae-train` console script (and train.py): 0 on success, 2 with one or two lines on bad input."""
    return run_main(run, argv, interrupted="interrupted: the last finished epoch is saved; continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
