"""Evaluate any loadable model on any compatible data set, writing what train.py's export writes.

    python -m explorer.cli.evaluate MODEL --dataset NAME [--data-root DIR] [--split test] [--iwae-k 1000]
        [--maps pca,umap,tsne] [--limit N] [--device auto] [--cache-dir D] [--trust-code FILE] [--image-size N]

MODEL is anything `explorer.checkpoint.from_pretrained` loads (a native checkpoint folder, or a foreign model:
diffusers AutoencoderKL folder, ONNX pair, trusted adapter). The output is one folder holding
analysis.safetensors (per-item scores, codes, maps), metrics.json and README.md (an evaluation card, a Hugging Face model card):

- MODEL/eval/<dataset>/ (MODEL/eval/<dataset>-train/ for --split train) when MODEL is a folder it can write to;
  train.py's own files at the top of MODEL are never touched;
- else CACHE/models/<weights digest>/eval/<dataset>/ (explorer.cache), e.g. for a read-only shipped model.

The folder is filled under a temporary name and swapped in whole, so a failed or interrupted run leaves the
previous evaluation (or none) and nothing half-written. Bad input prints one line `error: ...` and exits 2.

`--metrics disentanglement` (a data set with known factors, e.g. dsprites) computes the disentanglement metrics
on posterior means instead (explorer.analysis.disentanglement.measure: a full grid encoded once per model and
cached by weights digest; `--metric-seeds` sampling seeds give each figure its spread; `--quick` runs DCI at its
quick preset). Their entries, each with a one-line description, are merged into MODEL/metrics.json under
"disentanglement" and the card (MODEL/README.md) gains or renews its Disentanglement section; a model folder that
cannot be written gets them in CACHE/models/<weights digest>/eval/<dataset>-factors/.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import explorer
from explorer.analysis.encode_dataset import encode_splits
from explorer.analysis.maps import parse_map_methods
from explorer.analysis.store import EVAL_DIR, EVAL_KIND
from explorer.cache import entry_path, weights_digest
from explorer.analysis.disentanglement.measure import PRESETS, measure
from explorer.analysis.disentanglement.report import METRICS
from explorer.card import (DISENTANGLEMENT_HEADING, disentanglement_lines, objective_text, render_evaluation_card,
                          rewrite_card, with_section)
from explorer.checkpoint import CARD_NAME
from explorer import checkpoint, run_folder  # looked up per call: the loaders and writers may be replaced
from explorer.checkpoint import CheckpointError, resolve_device
from explorer.cli.errors import USER_ERRORS, CliParser, parse_option, run_main
from explorer.cli.progress import Bars
from explorer.cli.report import collapse_warning, score_lines
from explorer.data import available_datasets, load_dataset, loader_options
from explorer.denormals import flush_denormals
from explorer.data.factors import factors_of
from explorer.files import atomic_folder_swap, atomic_write_bytes, atomic_write_json, fresh_folder_beside, is_writable_folder

SPLITS = ("test", "train")
METRIC_KINDS = ("scores", "disentanglement")
ENCODE_SPLITS = (*SPLITS, "both")  # --encode-only may stream both splits


class EvaluateError(ValueError):
    """Bad input to the evaluate command; the message says what to change."""


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="vae-evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", metavar="MODEL", help="model folder or file (anything from_pretrained loads)")
    p.add_argument("--dataset", required=True, help="data set name (explorer.data.available_datasets())")
    p.add_argument("--data-root", default=None, help="folder of a folder-based data set")
    p.add_argument("--split", default="test", choices=ENCODE_SPLITS,
                   help="which split's items to score (default test); both: test and train (with --encode-only)")
    p.add_argument("--encode-only", action="store_true",
                   help="only stream the split(s) through the model into resumable cache shards "
                        "(codes, log-variances, one-draw ELBO and KL, labels/attributes): no IWAE, no maps")
    p.add_argument("--iwae-k", type=int, default=1000, help="importance samples per item for log p(x) (0: skip)")
    p.add_argument("--maps", default="pca,umap,tsne", help="2-D maps: any of pca,umap,tsne, or none (PCA is always made)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N items of the split")
    p.add_argument("--batch-size", type=int, default=50, help="items per scoring batch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--cache-dir", default=None, help="cache folder (default $VAE_EXPLORER_CACHE or ~/.cache/vae-explorer)")
    p.add_argument("--trust-code", action="append", default=[], metavar="FILE",
                   help="an adapter .py file allowed to run (repeatable; foreign models only)")
    p.add_argument("--image-size", type=int, default=None,
                   help="image size for the model (foreign models that take one) and the data set (loaders that take one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the UMAP / t-SNE layouts")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--metrics", default="scores", choices=METRIC_KINDS,
                   help="scores: likelihood, maps (default); disentanglement: BetaVAE, FactorVAE, MIG, SAP, DCI, "
                        "modularity on a data set with known factors")
    p.add_argument("--quick", action="store_true", help="--metrics disentanglement: DCI at its quick preset "
                   "(2,000 / 1,000 points, 20 stages; published DCI takes minutes per seed)")
    p.add_argument("--metric-names", default=None, metavar="NAMES",
                   help="--metrics disentanglement: a comma-separated subset of " + ",".join(METRICS) + " (default all)")
    p.add_argument("--metric-seeds", type=int, default=3,
                   help="--metrics disentanglement: sampling seeds 0..N-1 per metric (their spread is the error bar)")
    return p


def load_model(path: Path, device: str, trusted_code: list[str], image_size: int | None):
    """from_pretrained(path, device), passing trusted_code / image_size only when given (and only where the
    installed from_pretrained takes them: foreign-model support adds them)."""
    if not path.exists():
        raise EvaluateError(f"{path} does not exist: give a model folder (config.json + model.safetensors) or file")
    extra: dict[str, Any] = {}
    if trusted_code:
        extra["trusted_code"] = tuple(trusted_code)
    if image_size is not None and not (path / "model.safetensors").is_file():
        extra["image_size"] = image_size  # a native checkpoint's size is in its config: only foreign models take it
    return checkpoint.from_pretrained(path, device, **extra)


def load_data(name: str, root: str | None, image_size: int | None):
    if name not in available_datasets():
        raise EvaluateError(f"unknown data set {name!r}; known: {', '.join(available_datasets())}")
    if root is not None and not Path(root).is_dir():
        raise EvaluateError(f"--data-root {root} is not a folder")
    # --image-size sizes a foreign model; the data follows it where its loader can resize (mnist5k is 28x28 as it is)
    takes_size = "image_size" in loader_options(name)
    options = {"image_size": image_size} if image_size is not None and takes_size else {}
    return load_dataset(name, root=root, **options), options


def _training_config(folder: Path) -> dict[str, Any] | None:
    """The training options a native checkpoint records (its KL weight among them); None for other folders."""
    try:
        return checkpoint.read_config(folder).get("training")
    except CheckpointError:
        return None


def _shape_text(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def output_target(model_path: Path, key: str, digest: str, cache_dir: str | Path | None) -> tuple[Path, Path]:
    """(final folder, fresh temporary folder beside it) for an evaluation: MODEL/eval/<key> when that can be
    written, else the cache entry of the weights digest."""
    if model_path.is_dir():
        target = model_path / EVAL_DIR / key
        if is_writable_folder(target):
            try:
                return target, fresh_folder_beside(target)
            except OSError:  # read-only after all (a mount, or permissions os.access cannot see)
                pass
    target = entry_path(digest, EVAL_KIND, key, cache_dir)
    return target, fresh_folder_beside(target)


def run(argv: list[str]) -> Path:
    """Evaluate as the command line says; returns the folder written."""
    args = build_parser().parse_args(argv)

    maps = parse_option("--maps", args.maps, parse_map_methods)
    if args.iwae_k < 0:
        raise EvaluateError(f"--iwae-k must be 0 or more, got {args.iwae_k}")
    if args.limit is not None and args.limit < 1:
        raise EvaluateError(f"--limit must be positive, got {args.limit}")
    if args.batch_size < 1:
        raise EvaluateError(f"--batch-size must be positive, got {args.batch_size}")
    if args.image_size is not None and args.image_size < 1:
        raise EvaluateError(f"--image-size must be positive, got {args.image_size}")
    if args.metric_seeds < 1:
        raise EvaluateError(f"--metric-seeds must be at least 1, got {args.metric_seeds}")
    if args.metrics == "disentanglement":
        names = [n.strip() for n in (args.metric_names or ",".join(METRICS)).split(",") if n.strip()]
        unknown = [n for n in names if n not in METRICS]
        if unknown or not names:
            raise EvaluateError(f"--metric-names {args.metric_names!r}: unknown {', '.join(unknown) or 'empty list'}; "
                                f"accepted: {', '.join(METRICS)}")
        return _disentanglement(args, argv, names)
    import torch

    flush_denormals()  # weights decayed to denormals make scoring many times slower (explorer/denormals.py)

    model_path = Path(args.model)
    data, options = load_data(args.dataset, args.data_root, args.image_size)
    device = resolve_device(args.device)
    model = load_model(model_path, str(device), args.trust_code, args.image_size)
    model_shape = tuple(int(s) for s in model.config.input_shape)
    if tuple(int(s) for s in data.image_shape) != model_shape:
        hint = " (try --image-size)" if model_shape[1:] != tuple(data.image_shape[1:]) else ""
        raise EvaluateError(f"{args.dataset} images are {_shape_text(data.image_shape)} (C x H x W) but the model "
                            f"takes {_shape_text(model_shape)}{hint}")
    if args.encode_only:
        return _encode_only(args, model, data, options, model_path)
    if args.split == "both":
        raise EvaluateError("--split both streams codes only: add --encode-only (or evaluate test and train in turn)")
    split = data.test if args.split == "test" else data.train
    n_items = min(len(split), args.limit) if args.limit else len(split)
    if n_items == 0:
        raise EvaluateError(f"the {args.split} split of {args.dataset} is empty")
    digest = weights_digest(model_path)
    key = args.dataset if args.split == "test" else f"{args.dataset}-{args.split}"
    target, tmp = output_target(model_path, key, digest, args.cache_dir)
    bars = Bars(not args.no_progress)
    try:
        bars.start_items(n_items, f"scoring {args.dataset} ({args.split})")
        metrics, arrays = run_folder.evaluate_and_map(model, split, iwae_k=args.iwae_k, maps=maps, seed=args.seed,
                                           limit=args.limit, batch_size=args.batch_size, on_batch=bars.scored,
                                           map_progress=bars.map_progress,
                                           pruning_objective=run_folder.beta_prunes(_training_config(model_path)))
        bars.close()
        family = model.family or type(model).__name__
        meta = {"name": data.name, "description": data.description, "options": options,
                "image_shape": list(data.image_shape), "classes": data.classes, "likelihood": data.likelihood}
        command = "python -m explorer.cli.evaluate " + shlex.join(argv)
        metrics.update({"model": str(model_path), "family": family, "weights_digest": digest, "dataset": meta,
                        "split": args.split, "device": str(device), "command": command,
                        "explorer_version": explorer.__version__, "torch_version": torch.__version__})
        model_config = model.config.to_dict()
        name = model_path.stem if model_path.is_file() else model_path.resolve().name
        card = render_evaluation_card(name, family, meta, model_config, metrics, command)
        run_folder.write_evaluation(tmp, metrics, arrays, card)
        atomic_folder_swap(tmp, target)
    except BaseException:
        bars.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def own_data_options(model_path: Path, dataset: str) -> dict[str, Any]:
    """The loader options the model was trained with (config.json), when `dataset` is its own data set."""
    config = model_path / "config.json"
    if not config.is_file():
        return {}
    try:
        meta = json.loads(config.read_text()).get("dataset") or {}
    except (OSError, ValueError):
        return {}
    return dict(meta.get("options") or {}) if meta.get("name") == dataset else {}


def _disentanglement(args: argparse.Namespace, argv: list[str], names: list[str]) -> Path:
    """--metrics disentanglement: the metrics of the model on the data set's factors, written into the model's
    metrics.json and card (or the cache when the folder cannot be written); returns the folder written."""
    model_path = Path(args.model)
    own = own_data_options(model_path, args.dataset) if model_path.is_dir() else {}
    data, options = load_data(args.dataset, args.data_root, args.image_size)
    if own and not options:
        options = own
        data = load_dataset(args.dataset, root=args.data_root, **own)
    try:
        factors = factors_of(data)
    except ValueError as exc:
        raise EvaluateError(f"--metrics disentanglement needs a data set with known factors: {exc}") from None
    flush_denormals()
    device = resolve_device(args.device)
    model = load_model(model_path, str(device), args.trust_code, args.image_size)
    model_shape = tuple(int(s) for s in model.config.input_shape)
    if tuple(int(s) for s in factors.image_shape) != model_shape:
        raise EvaluateError(f"{args.dataset} images are {_shape_text(factors.image_shape)} (C x H x W) but the model "
                            f"takes {_shape_text(model_shape)}")
    preset = "quick-dci" if args.quick else "published"
    shown = [-1.0]

    def progress(fraction: float, stage: str) -> None:
        # one line per metric; the grid encoding every 5% of the whole
        if args.no_progress or (stage.startswith("encoding") and fraction - shown[0] < 0.05 and fraction < 0.5):
            return
        shown[0] = fraction
        print(f"[{100 * fraction:5.1f}%] {stage}", file=sys.stderr, flush=True)

    seeds = tuple(range(args.metric_seeds))
    report = measure(model, model_path if model_path.is_dir() else None, factors, seeds, preset, names,
                     cache_dir=args.cache_dir, progress=progress)
    command = "vae-evaluate " + shlex.join(argv)
    info = {"seeds": list(seeds), "preset": preset, "preset_description": PRESETS[preset], "command": command,
            "codes": "posterior means", "factor_names": report.factor_names, "options": options,
            "mutual_information": report.mutual_information.tolist(), "factor_entropy": report.factor_entropy.tolist(),
            "encoding": {k: v for k, v in report.encoding.items() if k != "path"}}
    if (model_path / "config.json").is_file():  # the card then states what the model was trained for
        own_metrics = json.loads((model_path / "metrics.json").read_text()) if (model_path / "metrics.json").is_file() else {}
        info["objective"] = objective_text(json.loads((model_path / "config.json").read_text()), own_metrics)
    for key, entry in sorted(report.entries.items()):
        print(f"{key}: {entry['value']:.4f} ± {entry['spread']:.4f}")
    return write_disentanglement(model_path, report.entries, report.dataset, info, args.cache_dir)


def write_disentanglement(model_path: Path, entries: dict[str, Any], dataset: str, info: dict[str, Any],
                          cache_dir: str | Path | None) -> Path:
    """Merge the entries into MODEL/metrics.json ("disentanglement", and "disentanglement_info" per data set)
    and renew the card's Disentanglement section, when MODEL is a folder that can be written; else write
    metrics.json and README.md into the cache's eval/<dataset>-factors. Returns the folder written."""
    folder = model_path if model_path.is_dir() and is_writable_folder(model_path) else None
    if folder is None:
        folder = entry_path(weights_digest(model_path), EVAL_KIND, f"{dataset}-factors", cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
    metrics_file, card_file = folder / "metrics.json", folder / CARD_NAME
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    metrics["disentanglement"] = {**(metrics.get("disentanglement") or {}), **entries}  # a subset renews its own
    metrics["disentanglement_info"] = {**(metrics.get("disentanglement_info") or {}), dataset: info}
    atomic_write_json(metrics_file, metrics)
    card = card_file.read_text() if card_file.is_file() else f"# {model_path.resolve().name}\n"
    body = disentanglement_lines(metrics["disentanglement"], metrics["disentanglement_info"])
    atomic_write_bytes(card_file, with_section(card, DISENTANGLEMENT_HEADING, body).encode())
    if folder == model_path and (folder / "config.json").is_file():
        try:
            rewrite_card(folder)  # the card's model-index from the renewed metrics.json
        except ValueError:
            pass  # not a native checkpoint (a diffusers folder): its card has no metadata of ours to renew
    return folder


def _encode_only(args: argparse.Namespace, model, data, options: dict[str, Any], model_path: Path) -> Path:
    """--encode-only: `explorer.analysis.encode_dataset.encode_splits` into the cache; returns the last folder."""
    splits = ["test", "train"] if args.split == "both" else [args.split]
    out = encode_splits(model, data, splits, weights_digest(model_path), data_options=options, cache_dir=args.cache_dir,
                        batch_size=args.batch_size, limit=args.limit, show_progress=not args.no_progress)
    for split, encoded in out.items():
        print(f"encoded {len(encoded):,} {args.dataset} {split} items into {encoded.folder}", file=sys.stderr)
    return out[splits[-1]].folder


def _body(argv: list[str]) -> int:
    target = run(argv)
    metrics_file = target / "metrics.json"
    if metrics_file.is_file():  # --encode-only writes shards, not scores
        metrics = json.loads(metrics_file.read_text())
        for line in score_lines(metrics):
            print(line)
        warning = collapse_warning(metrics)
        if warning:
            print(warning, file=sys.stderr)
    print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `vae-evaluate` console script: 0 on success, 2 (with one line `error: ...`) on bad input."""
    return run_main(_body, argv, errors=(EvaluateError, CheckpointError, *USER_ERRORS),
                    interrupted="interrupted: nothing was written")


if __name__ == "__main__":
    sys.exit(main())
