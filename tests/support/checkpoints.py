"""Tiny checkpoints for the app's tests, made the way train.py makes them (Trainer + export_model), in seconds.

Training uses a few hundred images for one epoch; evaluation uses the full test split, so the analysis arrays
line up with the data set the app loads. Shipped checkpoints in pretrained/ are used as well when present.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = ROOT / "pretrained"
SHIPPED = ("conv-mnist5k", "mlp-mnist5k-2d", "conv-digits", "conv-patches", "pu-shapes")


@functools.lru_cache(maxsize=4)
def load(name: str):
    """Embedded data sets straight from their loaders (explorer.data.load_dataset also imports torchvision)."""
    from explorer.data import embedded

    return {"mnist5k": embedded.load_mnist5k, "patches": embedded.load_patches, "digits": embedded.load_digits}[name]()


def _subset(data, n_train: int):
    from explorer.data.base import DataSplit, TensorImageDataset

    train = data.train
    if isinstance(train, TensorImageDataset):
        train = TensorImageDataset(train.images[:n_train], train.labels[:n_train])
    return DataSplit(data.name, train, data.test, data.image_shape, data.likelihood, data.classes, data.description,
                     data.collate_fn, data.extras)


def build(out: Path, family: str, dataset: str, n_train: int = 256, **config) -> Path:
    """Train `family` on `dataset` for one epoch on n_train images and export a full checkpoint folder."""
    from explorer.run_folder import export_model
    from explorer.models import get_model_class
    from explorer.training import TrainConfig, Trainer

    data = _subset(load(dataset), n_train)
    cls = get_model_class(family)
    values = {"input_shape": data.image_shape, "likelihood": data.likelihood, **config}
    torch.manual_seed(0)
    model = cls(cls.config_class.from_dict(values))
    cfg = TrainConfig(epochs=1, batch_size=64, tensorboard=False, progress=False)
    meta = {"name": data.name, "description": data.description, "options": {}, "image_shape": list(data.image_shape),
            "classes": data.classes, "likelihood": data.likelihood}
    command = f"tests: one epoch of {family} on {n_train} {dataset} images"
    Trainer(model, data, cfg, out, torch.device("cpu"), checkpoint_extra={"dataset": meta, "command": command}).fit()
    export_model(model, data, out, asdict(cfg), command, iwae_k=5, maps=[], dataset_meta=meta)
    return out


def build_fake_captioner(out: Path) -> Path:
    """The test-only 'tinycap' family (untrained) on mnist5k, exported like any checkpoint."""
    from tests.support import fake_captioner  # noqa: F401  (registers the family)
    from explorer.run_folder import export_model
    from explorer.models import get_model_class

    data = load("mnist5k")
    cls = get_model_class("tinycap")
    torch.manual_seed(0)
    model = cls(cls.config_class.from_dict({"input_shape": data.image_shape, "latent_dim": 18}))
    meta = {"name": data.name, "options": {}, "classes": data.classes}
    export_model(model, data, out, {}, "tests: untrained tinycap", iwae_k=5, maps=[], dataset_meta=meta)
    return out


def build_all(root: Path) -> dict[str, Path]:
    """Every tiny checkpoint plus a broken folder; returns name -> folder."""
    root.mkdir(parents=True, exist_ok=True)
    made = {
        "tiny-conv-mnist5k": build(root / "tiny-conv-mnist5k", "conv", "mnist5k", latent_dim=8, channels=(8, 16), hidden_dim=32),
        "tiny-mlp-2d": build(root / "tiny-mlp-2d", "mlp", "mnist5k", latent_dim=2, hidden_sizes=(64,)),
        "tiny-conv-patches": build(root / "tiny-conv-patches", "conv", "patches", latent_dim=8, channels=(8, 16), hidden_dim=32),
        "tiny-captioner": build_fake_captioner(root / "tiny-captioner"),
    }
    pu = build_pu(root / "tiny-pu")
    if pu is not None:
        made["tiny-pu"] = pu
    broken = root / "broken-model"
    broken.mkdir(exist_ok=True)
    (broken / "config.json").write_text("{ this is not json")
    made["broken-model"] = broken
    bad_weights = root / "bad-weights"
    bad_weights.mkdir(exist_ok=True)
    cfg = json.loads((made["tiny-conv-mnist5k"] / "config.json").read_text())
    (bad_weights / "config.json").write_text(json.dumps(cfg))
    (bad_weights / "model.safetensors").write_bytes(b"not a safetensors file")
    made["bad-weights"] = bad_weights
    return made


def shipped() -> dict[str, Path]:
    """Shipped checkpoints present in pretrained/ (name -> folder)."""
    if not PRETRAINED.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED.iterdir()) if (p / "config.json").is_file()}


def build_pu(out: Path, n_images: int = 200) -> Path | None:
    """A tiny captioning 'pu' checkpoint on a small generated shapes set (None when the family is absent)."""
    from explorer.models import available_families

    if "pu" not in available_families():
        return None
    from explorer.data.shapes import load_shapes
    from explorer.run_folder import export_model
    from explorer.models import get_model_class
    from explorer.training import TrainConfig, Trainer

    data = load_shapes(n_images=n_images)
    cls = get_model_class("pu")
    small = {"embed_dim": 16, "hidden_dim": 32, "code_feed_dim": 16, "eval_draws": 2}
    values = cls.adapt_config_to_data({"likelihood": data.likelihood, **small}, data)
    torch.manual_seed(0)
    model = cls(cls.config_class.from_dict(values))
    cfg = TrainConfig(epochs=1, batch_size=64, tensorboard=False, progress=False)
    meta = {"name": "shapes", "description": data.description, "options": {"n_images": n_images},
            "image_shape": list(data.image_shape), "classes": data.classes, "likelihood": data.likelihood}
    command = f"tests: one epoch of pu on {n_images} shapes images"
    Trainer(model, data, cfg, out, torch.device("cpu"), checkpoint_extra={"dataset": meta, "command": command}).fit()
    export_model(model, data, out, asdict(cfg), command, iwae_k=5, maps=[], dataset_meta=meta)
    return out


_BUILT: dict[str, Path] | None = None
NEEDED = ("tiny-conv-mnist5k", "tiny-mlp-2d", "tiny-conv-patches", "tiny-captioner", "broken-model", "bad-weights")


def _built_in(folder: Path) -> dict[str, Path] | None:
    """name -> folder of a complete built set in `folder`, else None."""
    if not all((folder / n).is_dir() for n in NEEDED):
        return None
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()}


def test_models(shared: Path | None = None) -> dict[str, Path]:
    """The tiny checkpoints for this test process, built once (VAE_EXPLORER_TEST_MODELS=DIR reuses a built set).

    shared: a folder that the test processes of one session share (pytest-xdist's workers): the first one to get
    there builds the set into it, under a lock, and the others read it (the build takes about 30 s of CPU: one
    epoch each and an evaluation over the whole test split). Without it, a temporary folder of this process's own."""
    global _BUILT
    import os
    import tempfile

    if _BUILT is None:
        reuse = os.environ.get("VAE_EXPLORER_TEST_MODELS")
        _BUILT = _built_in(Path(reuse)) if reuse else None
    if _BUILT is None and shared is not None:
        from tests.support.built_once import built_once

        _BUILT = _built_in(built_once(shared, build_all))
    if _BUILT is None:
        _BUILT = build_all(Path(tempfile.mkdtemp(prefix="vae-app-models-")))
    return _BUILT


def without_own_data(src: Path, out: Path) -> Path:
    """A copy of checkpoint `src` as a model trained elsewhere arrives: config.json without its "dataset" entry,
    and no metrics.json nor analysis.safetensors (so no stored codes, KL per dimension or test scores)."""
    import shutil

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("metrics.json", "analysis.safetensors", "checkpoint"))
    payload = json.loads((out / "config.json").read_text())
    payload.pop("dataset", None)
    (out / "config.json").write_text(json.dumps(payload))
    return out


def build_pu_without_captions(out: Path) -> Path | None:
    """An untrained 'pu' checkpoint whose config has vocab_size 0 (no caption head); None without the family."""
    from explorer.checkpoint import save_pretrained
    from explorer.models import available_families, get_model_class

    if "pu" not in available_families():
        return None
    cls = get_model_class("pu")
    small = {"input_shape": (3, 32, 32), "channels": (4, 6), "kernel_sizes": (3, 3), "pool_sizes": (3,),
             "dec_kernel_sizes": (3, 3), "class_names": ("circle", "square", "triangle"), "vocab_size": 0}
    torch.manual_seed(0)
    model = cls(cls.config_class.from_dict(small))
    meta = {"name": "shapes", "options": {"n_images": 200}, "classes": list(small["class_names"])}
    return save_pretrained(model, out, extra={"dataset": meta, "summary": "pu without a caption head (test)"})
