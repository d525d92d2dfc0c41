"""The end of a training run: evaluate, precompute maps, and write the final model folder with its card.

`evaluate_and_map` and `write_evaluation` are shared with `python -m explorer.cli.evaluate`, which writes the same
analysis for any loadable model on any compatible data set.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from explorer.analysis.captions import caption_metrics
from explorer.analysis.codebook import codebook_metrics
from explorer.analysis.evaluation import evaluate
from explorer.analysis.maps import compute_tsne, compute_umap
from explorer.analysis.store import save_analysis
from explorer.card import render_card, summary_line
from explorer.checkpoint import CARD_NAME, METRICS_NAME, save_pretrained
from explorer.data.base import Dataset, DataSplit
from explorer.files import atomic_write_bytes, atomic_write_json, atomic_write_with
from explorer.latent import plane_grid
from explorer.models.base import VAE
from explorer.pca import fit_pca


# progress(method, fraction in [0, 1], stage text) while the maps are computed
MapProgress = Callable[[str, float, str], None]


def compute_maps(means, methods: list[str], seed: int = 0, progress: MapProgress | None = None,
                 fit_size: int | None = None) -> dict[str, Any]:
    """Arrays for analysis.safetensors: PCA always (with its components), UMAP / t-SNE when asked (fitted on
    a seeded sample of fit_size beyond that many codes, the rest placed by `transform`)."""
    pca = fit_pca(means)
    arrays: dict[str, Any] = {"pca_coords": pca.coords, "pca_components": pca.components, "pca_mean": pca.mean}
    if progress is not None:
        progress("pca", 1.0, "done")
    for method, compute in (("umap", compute_umap), ("tsne", compute_tsne)):
        if method in methods:
            report = None if progress is None else functools.partial(progress, method)
            arrays[f"{method}_coords"] = compute(means, seed=seed, progress=report, fit_size=fit_size)
    return arrays


def evaluate_and_map(
    model: VAE, test: Dataset, *, iwae_k: int = 1000, maps: list[str] | None = None, seed: int = 0,
    limit: int | None = None, batch_size: int = 50, on_batch: Callable[[int], None] | None = None,
    map_progress: MapProgress | None = None, pruning_objective: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score a split's (first `limit`) items and map their codes: (metrics, analysis arrays), with the seconds
    each part took and the maps made. Shared by train.py's export and `python -m explorer.cli.evaluate`."""
    model.eval()
    t0 = time.perf_counter()
    metrics, arrays = evaluate(model, test, model.config.likelihood, iwae_k=iwae_k, batch_size=batch_size, limit=limit,
                              on_batch=on_batch, pruning_objective=pruning_objective)
    metrics["eval_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    arrays.update(compute_maps(arrays["test_means"], maps or [], seed=seed, progress=map_progress))
    metrics["map_seconds"] = time.perf_counter() - t1
    metrics["maps"] = ["pca", *[m for m in (maps or []) if m != "pca"]]
    return metrics, arrays


def write_evaluation(folder: str | Path, metrics: dict[str, Any], arrays: dict[str, Any], card: str | None = None) -> None:
    """analysis.safetensors, metrics.json and (when given) README.md into folder, each written atomically."""
    folder = Path(folder)
    save_analysis(folder, arrays)
    atomic_write_json(folder / METRICS_NAME, metrics)
    if card is not None:
        atomic_write_bytes(folder / CARD_NAME, card.encode())


def save_png(images: torch.Tensor, path: Path, nrow: int) -> Path:
    """A grid of images (B, C, H, W) in [0, 1] as a PNG file, written atomically."""
    from torchvision.utils import save_image

    return atomic_write_with(path, lambda tmp: save_image(images, tmp, nrow=nrow, format="png"))


@torch.no_grad()
def save_pictures(model: VAE, data: DataSplit, folder: Path, seed: int = 0) -> dict[str, str]:
    """samples.png (prior draws) and reconstructions.png (test images over their reconstructions).

    A conditional model draws three samples of each class (one class per column) and reconstructs each test
    image under its own label."""
    model.eval()
    gen = torch.Generator(device=model.device).manual_seed(seed)
    k = model.capabilities().condition_classes
    if k:
        classes = torch.arange(k, device=model.device).repeat(3)  # (3K,): rows of 0..K-1
        save_png(model.sample(len(classes), generator=gen, condition=classes).cpu(), folder / "samples.png", nrow=k)
    else:
        save_png(model.sample(32, generator=gen).cpu(), folder / "samples.png", nrow=16)
    n = len(data.test)
    picks = torch.linspace(0, n - 1, min(16, n)).round().long().tolist()  # spread over the split, not its first rows
    x = torch.stack([data.test[i][0] for i in picks]).to(model.device)
    given = {"condition": torch.tensor([int(data.test[i][1]) for i in picks], device=model.device)} if k else {}
    save_png(torch.cat([x, model.reconstruct(x, **given)]).cpu(), folder / "reconstructions.png", nrow=16)
    samples = "Prior samples, one class per column" if k else "Prior samples"
    pictures = {samples: "samples.png", "Test images (top) and reconstructions (bottom)": "reconstructions.png"}
    if model.latent_shape == (2,) and not k:  # (a conditional model's plane depends on the class)
        save_png(latent_plane_grid(model, 15).cpu(), folder / "latent_plane.png", nrow=15)
        pictures["The 2-D latent plane: decoded images on a grid over [-3, 3]^2 (z1 right, z2 up)"] = "latent_plane.png"
    return pictures


@torch.no_grad()
def latent_plane_grid(model: VAE, n: int = 15, extent: float = 3.0) -> torch.Tensor:
    """Decoded images (n*n, C, H, W) of a 2-D latent on an n x n grid, rows from top (z2 = +extent) down."""
    codes = plane_grid((-extent, -extent), (extent, extent), n)  # (n*n, 2), top row z2 = +extent
    return model.decode(torch.from_numpy(codes).float().to(model.device)).mean


def beta_prunes(train_config: dict[str, Any] | None) -> bool:
    """Whether a run's KL weight over 1 (a beta-VAE) makes switched-off dimensions its intended result."""
    return float((train_config or {}).get("beta", 1.0)) > 1.0


def export_model(
    model: VAE, data: DataSplit, out_dir: str | Path, train_config: dict[str, Any], command: str, *,
    iwae_k: int = 1000, maps: list[str] | None = None, train_seconds: float = float("nan"), device: str = "cpu",
    dataset_meta: dict[str, Any] | None = None, seed: int = 0, notes: list[str] | None = None,
    on_batch: Callable[[int], None] | None = None, map_progress: MapProgress | None = None,
) -> dict[str, Any]:
    """Write config.json, model.safetensors, metrics.json, analysis.safetensors, pictures and README.md.
    on_batch(items) follows the scoring of the test split and map_progress the maps, e.g. for progress bars."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    meta = dataset_meta or {"name": data.name}
    save_pretrained(model, out, {"dataset": meta, "summary": "", "command": command})
    metrics, arrays = evaluate_and_map(model, data.test, iwae_k=iwae_k, maps=maps, seed=seed, on_batch=on_batch,
                                       map_progress=map_progress, pruning_objective=beta_prunes(train_config))
    metrics.update({"train_seconds": train_seconds, "device": device})
    capabilities = model.capabilities()
    if capabilities.captions or capabilities.labels:
        metrics.update(caption_metrics(model, data))
    if capabilities.discrete_code:
        metrics.update(codebook_metrics(model, data.test, model.config.likelihood))
    write_evaluation(out, metrics, arrays)
    summary = summary_line(model.family, meta["name"], metrics)
    save_pretrained(model, out, {"dataset": meta, "summary": summary, "command": command, "training": train_config})
    images = save_pictures(model, data, out, seed)
    card = render_card(out.name, model.family, meta, model.config.to_dict(), train_config, metrics, command, images, notes)
    atomic_write_bytes(out / CARD_NAME, card.encode())
    return metrics
