"""The end of a training run: evaluate, precompute maps, and write the final model folder with its card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from explorer.analysis.captions import caption_metrics
from explorer.analysis.evaluation import evaluate
from explorer.analysis.maps import compute_tsne, compute_umap, fit_pca
from explorer.analysis.store import save_analysis
from explorer.card import render_card, summary_line
from explorer.checkpoint import CARD_NAME, METRICS_NAME, atomic_write_bytes, save_pretrained, write_json
from explorer.data.base import DataSplit
from explorer.models.base import VAE


def compute_maps(means, methods: list[str], seed: int = 0) -> dict[str, Any]:
    """Arrays for analysis.safetensors: PCA always (with its components), UMAP / t-SNE when asked."""
    pca = fit_pca(means)
    arrays: dict[str, Any] = {"pca_coords": pca.coords, "pca_components": pca.components, "pca_mean": pca.mean}
    if "umap" in methods:
        arrays["umap_coords"] = compute_umap(means, seed=seed)
    if "tsne" in methods:
        arrays["tsne_coords"] = compute_tsne(means, seed=seed)
    return arrays


@torch.no_grad()
def save_pictures(model: VAE, data: DataSplit, folder: Path, seed: int = 0) -> dict[str, str]:
    """samples.png (prior draws) and reconstructions.png (test images over their reconstructions)."""
    from torchvision.utils import save_image

    model.eval()
    gen = torch.Generator(device=model.device).manual_seed(seed)
    save_image(model.sample(32, generator=gen).cpu(), folder / "samples.png", nrow=16)
    n = len(data.test)
    picks = torch.linspace(0, n - 1, min(16, n)).round().long().tolist()  # spread over the split, not its first rows
    x = torch.stack([data.test[i][0] for i in picks]).to(model.device)
    save_image(torch.cat([x, model.reconstruct(x)]).cpu(), folder / "reconstructions.png", nrow=16)
    pictures = {"Prior samples": "samples.png", "Test images (top) and reconstructions (bottom)": "reconstructions.png"}
    if model.latent_shape == (2,):
        save_image(latent_plane_grid(model, 15).cpu(), folder / "latent_plane.png", nrow=15)
        pictures["The 2-D latent plane: decoded images on a grid over [-3, 3]^2 (z1 right, z2 up)"] = "latent_plane.png"
    return pictures


@torch.no_grad()
def latent_plane_grid(model: VAE, n: int = 15, extent: float = 3.0) -> torch.Tensor:
    """Decoded images (n*n, C, H, W) of a 2-D latent on an n x n grid, rows from top (z2 = +extent) down."""
    ticks = torch.linspace(-extent, extent, n, device=model.device)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return model.decode(torch.stack([z1.flatten(), z2.flatten()], 1)).mean


def export_model(
    model: VAE, data: DataSplit, out_dir: str | Path, train_config: dict[str, Any], command: str, *,
    iwae_k: int = 1000, maps: list[str] | None = None, train_seconds: float = float("nan"), device: str = "cpu",
    dataset_meta: dict[str, Any] | None = None, seed: int = 0, notes: list[str] | None = None,
) -> dict[str, Any]:
    """Write config.json, model.safetensors, metrics.json, analysis.safetensors, pictures and README.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    meta = dataset_meta or {"name": data.name}
    save_pretrained(model, out, {"dataset": meta, "summary": "", "command": command})
    t0 = time.perf_counter()
    metrics, arrays = evaluate(model, data.test, model.config.likelihood, iwae_k=iwae_k)
    metrics.update({"train_seconds": train_seconds, "device": device, "eval_seconds": time.perf_counter() - t0})
    capabilities = model.capabilities()
    if capabilities.captions or capabilities.labels:
        metrics.update(caption_metrics(model, data))
    metrics.update(model.extra_metrics(data, model.device))
    t1 = time.perf_counter()
    arrays.update(compute_maps(arrays["test_means"], maps or [], seed=seed))
    metrics["map_seconds"] = time.perf_counter() - t1
    metrics["maps"] = ["pca", *[m for m in (maps or []) if m != "pca"]]
    save_analysis(out, arrays)
    write_json(out / METRICS_NAME, metrics)
    summary = summary_line(model.family, meta["name"], metrics)
    save_pretrained(model, out, {"dataset": meta, "summary": summary, "command": command, "training": train_config})
    images = save_pictures(model, data, out, seed)
    card = render_card(out.name, model.family, meta, model.config.to_dict(), train_config, metrics, command, images, notes)
    atomic_write_bytes(out / CARD_NAME, card.encode())
    return metrics
