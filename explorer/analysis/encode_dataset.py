"""Encode a whole data set, of any size, streamed in batches into resumable safetensors shards in the cache.

For every item: the code pages show (`encode_code`, flat (D,)), the posterior log-variance (D,) where the
posterior has one, a one-draw ELBO and its KL, and the label (and attribute row, e.g. CelebA's 40). Images are
read by a DataLoader batch by batch and never stacked, so memory grows with the code size times the item count,
not with the images.

Randomness is per item: item i's draw (and its fixed binarisation or dequantisation, as evaluation scores
them) comes from a counter-based generator keyed by (seed, i), so the result does not depend on batch sizes or
boundaries. Shards of `shard_size` items are written atomically into one cache folder with a manifest; a
killed run resumes from its last complete shard and gives arrays bit-identical to an uninterrupted run.

    CACHE/models/<digest>/encoded/<dataset>-<split>-<options digest>/
        manifest.json          {"items", "shard_size", "shards": [...], "complete", options}
        shard-00000.safetensors  means (n, D) f32, logvars (n, D) f32, elbo (n,), kl (n,), labels (n,) i64,
                                 [attributes (n, A) u8], [caption_words (n, V) u8]

A model that declares captions also gets, per item, which of its V vocabulary words one caption sampled from
the item's code holds (`caption_words`): the map colours by a caption word from it without captioning again.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from explorer.cache import entry_path, read_entry, write_entry
from explorer.data.base import UNLABELLED, DataSplit
from explorer.data.transforms import prepare_batch
from explorer.distributions import ItemNoise, randn_like
from explorer.files import atomic_write_json
from explorer.models.base import VAE, posterior_kl
from explorer.text import tokenize

ENCODE_KIND = "encoded"
MANIFEST = "manifest.json"
SHARD_SIZE = 65_536
FORMAT = 2  # 2: item-keyed noise from explorer.distributions.ItemNoise, round(255 x) dequantisation
SCORING_STREAM = 0xD1B54A32D192ED03  # ItemNoise's "epoch" for scoring: apart from every training epoch's noise

# progress(items done, items in all) after every batch; on_shard(shards done, shards in all) after each shard
Progress = Callable[[int, int], None]


@dataclass
class EncodedSplit:
    """Per-item arrays of one encoded split, in item order."""

    means: np.ndarray  # (N, D) float32: the codes (`encode_code`)
    logvars: np.ndarray  # (N, D) float32: posterior log-variances (NaN where the posterior has none)
    elbo: np.ndarray  # (N,) float32, nats, one draw
    kl: np.ndarray  # (N,) float32, nats, the code's KL (closed form, or the one-draw estimate)
    labels: np.ndarray  # (N,) int64, UNLABELLED where none
    attributes: np.ndarray | None  # (N, A) uint8 0/1, for attributed data (CelebA)
    attribute_names: list[str] | None
    folder: Path
    caption_words: np.ndarray | None = None  # (N, V) uint8 0/1: word v in a caption sampled from the item's code
    caption_vocabulary: list[str] | None = None  # the V words, for a model that declares captions

    def __len__(self) -> int:
        return len(self.elbo)


def scoring_form(x: Tensor, likelihood: str, noise: ItemNoise) -> Tensor:
    """Images as evaluation scores them, from item-keyed noise (the first draw of `noise`): a fixed binarisation
    (Bernoulli) or the dequantisation (round(255 x) + u) / 256 (Gaussian): explorer.data.transforms.prepare_batch."""
    return prepare_batch(x, likelihood, noise)


# -- one batch -------------------------------------------------------------------------------------------
@torch.no_grad()
def encode_batch(model: VAE, x: Tensor, index: Tensor, seed: int = 0) -> dict[str, Tensor]:
    """Per-item means (B, D), logvars (B, D), elbo (B,), kl (B,) for images x (B, C, H, W) in [0, 1] on the
    model's device, items `index` (B,). Everything is of the images' scoring form (`scoring_form`), as
    evaluation's test_means are; the ELBO's draw is z = mean + std * eps with eps keyed by (seed, item): draw 0
    of ItemNoise(seed, SCORING_STREAM, items) is the input noise, draw 1 the ELBO's. A posterior without `logvar`
    (a flow) draws with its own rsample from a per-item generator instead."""
    noise = ItemNoise(seed, SCORING_STREAM, index)
    xs = scoring_form(x, model.config.likelihood, noise)
    post = model.encode(xs)
    means = model.code_from_latent(post.mean).flatten(1)
    logvar = getattr(post, "logvar", None)
    logvars = logvar.flatten(1) if logvar is not None else torch.full_like(means, math.nan)
    if getattr(post, "logvar", None) is not None:
        eps = randn_like(post.mean, noise)
        z = post.mean + torch.exp(0.5 * post.logvar) * eps
        nll = -model.decode(z).log_prob(xs).flatten(1).sum(1)
        kl = posterior_kl(post, z).sum(1)
    else:
        parts = []
        for row, i in enumerate(index.tolist()):
            item_seed = int(ItemNoise(seed, SCORING_STREAM, [i]).rand((1, 1))[0, 0] * 2**24)
            gen = torch.Generator(device=x.device).manual_seed(item_seed)
            terms = model.elbo_terms(xs[row : row + 1], gen)
            parts.append((terms["nll"], terms["kl_dims"].sum(1)))
        nll, kl = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    return {"means": means.float(), "logvars": logvars.float(), "elbo": -(nll + kl).float(), "kl": kl.float()}


def caption_words(model: VAE, means: Tensor, vocabulary: list[str], seed: int, first: int) -> Tensor:
    """(B, V) uint8: whether one caption sampled from each code of means (B, D) holds each of the V words. The
    generator is seeded by (seed, the batch's first item), so a resumed run draws the same captions."""
    gen = torch.Generator(device=means.device).manual_seed(int(seed) * 1_000_003 + int(first))
    with torch.no_grad():
        texts = model.captions(means.reshape(-1, *model.latent_shape), method="sample", n=1, generator=gen)
    column = {w: k for k, w in enumerate(vocabulary)}
    out = torch.zeros(len(texts), len(vocabulary), dtype=torch.uint8)
    for row, text in enumerate(texts):
        for word in tokenize(str(text)):
            if word in column:
                out[row, column[word]] = 1
    return out


# -- the data ---------------------------------------------------------------------------------------------
def attribute_table(dataset: Dataset) -> tuple[Tensor, list[str]] | None:
    """(attributes (N, A) 0/1, names) of a data set that carries an attribute table (`attributes` tensor and
    `attribute_names`, as explorer.data.celeba's), looking through Subsets; None for others."""
    index = None
    while isinstance(dataset, Subset):
        index = torch.as_tensor(dataset.indices) if index is None else torch.as_tensor(dataset.indices)[index]
        dataset = dataset.dataset
    table, names = getattr(dataset, "attributes", None), getattr(dataset, "attribute_names", None)
    if not isinstance(table, Tensor) or table.dim() != 2 or names is None:
        return None
    return (table if index is None else table[index]), list(names)


def _label(item: Any) -> int:
    label = item[1] if isinstance(item, (tuple, list)) and len(item) > 1 else None
    if isinstance(label, Tensor):
        return int(label) if label.dim() == 0 else UNLABELLED
    return int(label) if isinstance(label, (int, np.integer)) else UNLABELLED


def _collate(items: list[Any]) -> tuple[Tensor, Tensor]:
    images = torch.stack([item[0] for item in items])
    labels = torch.tensor([_label(item) for item in items], dtype=torch.long)
    return images, labels


# -- the run -----------------------------------------------------------------------------------------------
def encode_options_key(dataset_name: str, split: str, options: dict[str, Any]) -> str:
    """The cache entry name of an encoding: data set, split and a digest of every option."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset_name)
    return f"{safe}-{split}-{digest}"


def encode_folder(digest: str, dataset_name: str, split: str, options: dict[str, Any],
                  cache_dir: str | Path | None = None) -> Path:
    """CACHE/models/<digest>/encoded/<dataset>-<split>-<options digest> (explorer.cache; not created)."""
    return entry_path(digest, ENCODE_KIND, encode_options_key(dataset_name, split, options), cache_dir)


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.safetensors"


def _read_manifest(folder: Path, expected: dict[str, Any]) -> list[str]:
    """Names of the complete shards of a previous run with the same options (checked readable), else []."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    if {k: manifest.get(k) for k in expected} != expected:
        return []
    done = []
    for name in manifest.get("shards", []):
        if read_entry(folder / name) is None:
            break
        done.append(name)
    return done


def bound_heap_growth(threshold: int = 1 << 20) -> bool:
    """Make glibc serve allocations above `threshold` bytes with mmap, returned to the system on free.

    glibc raises its mmap threshold after the first large free, so every later batch-sized buffer (12 MB of
    images) comes from the heap, which then fragments: RSS grew by ~19 KB an item without any live memory.
    A fixed threshold (mallopt M_MMAP_THRESHOLD) keeps the peak flat. Process-wide and harmless; False where
    the C library is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, int(threshold)))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def encode_dataset(
    model: VAE, dataset: Dataset, folder: str | Path, *, batch_size: int = 256, shard_size: int = SHARD_SIZE,
    seed: int = 0, limit: int | None = None, num_workers: int = 0, progress: Progress | None = None,
    on_shard: Progress | None = None, show_progress: bool = True, description: str = "encoding",
    info: dict[str, Any] | None = None,
) -> EncodedSplit:
    """Encode the (first `limit`) items of a data set into `folder` (see the module docstring), resuming
    from the last complete shard of an earlier run with the same options, and return every item's arrays.

    The model runs on its own device under no_grad; images come from a DataLoader (num_workers processes)
    over one shard at a time, so batches never straddle shards and a resumed run repeats exactly the batches
    of an uninterrupted one. progress(done, total) after every batch (e.g. a page's bar), on_shard(done,
    total) after every shard is written; a tqdm bar on stderr unless show_progress is False. info: what the
    items are (data set name, split, loader options, class names), kept in the manifest for readers such as
    the map page (`stored_encodings`); it is not part of the resume check."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bound_heap_growth()
    n = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    table = attribute_table(dataset)
    dims = int(math.prod(model.latent_shape))
    n_shards = max(1, math.ceil(n / shard_size))
    vocabulary = [str(w) for w in model.vocabulary()] if model.capabilities().captions else None
    # caption_words None for models without captions, so their earlier encodings (no such key) still resume
    options = {"format": FORMAT, "items": n, "shard_size": shard_size, "batch_size": batch_size, "seed": seed,
               "latent_dims": dims, "caption_words": True if vocabulary else None}
    done = _read_manifest(folder, options)
    manifest: dict[str, Any] = {**options, "shards": list(done), "complete": False,
                                "attribute_names": table[1] if table else None, "caption_vocabulary": vocabulary,
                                "info": info or {}}
    model.eval()
    device = model.device
    from tqdm.auto import tqdm

    bar = tqdm(total=n, initial=min(len(done) * shard_size, n), desc=description, unit="item",
               disable=not show_progress, file=sys.stderr)
    try:
        for s in range(len(done), n_shards):
            start, stop = s * shard_size, min((s + 1) * shard_size, n)
            loader = DataLoader(Subset(dataset, range(start, stop)), batch_size=batch_size, shuffle=False,
                                num_workers=num_workers, collate_fn=_collate)
            parts: dict[str, list[Tensor]] = {"means": [], "logvars": [], "elbo": [], "kl": [], "labels": []}
            offset = start
            for images, labels in loader:
                index = torch.arange(offset, offset + len(images))
                out = encode_batch(model, images.to(device), index.to(device), seed)
                for key, value in out.items():
                    parts[key].append(value.cpu())
                parts["labels"].append(labels)
                if vocabulary is not None:
                    parts.setdefault("caption_words", []).append(
                        caption_words(model, out["means"], vocabulary, seed, offset))
                offset += len(images)
                bar.update(len(images))
                if progress is not None:
                    progress(offset, n)
            arrays = {k: torch.cat(v) for k, v in parts.items()}
            if table is not None:
                arrays["attributes"] = table[0][start:stop].to(torch.uint8)
            write_entry(folder / _shard_name(s), arrays, {"start": start, "stop": stop})
            manifest["shards"].append(_shard_name(s))
            atomic_write_json(folder / MANIFEST, manifest)
            if on_shard is not None:
                on_shard(s + 1, n_shards)
    finally:
        bar.close()
    manifest["complete"] = True
    atomic_write_json(folder / MANIFEST, manifest)
    return load_encoded(folder)


def load_encoded(folder: str | Path) -> EncodedSplit:
    """The arrays of a complete encoding folder, shards concatenated in item order (preallocated, so the
    peak is the result plus one shard)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    if not manifest.get("complete"):
        raise ValueError(f"{folder} holds an unfinished encoding ({len(manifest.get('shards', []))} shards): run it again to resume")
    n, dims = manifest["items"], manifest["latent_dims"]
    names = manifest.get("attribute_names")
    out = {"means": np.empty((n, dims), np.float32), "logvars": np.empty((n, dims), np.float32),
           "elbo": np.empty(n, np.float32), "kl": np.empty(n, np.float32), "labels": np.empty(n, np.int64)}
    attributes = np.empty((n, len(names)), np.uint8) if names else None
    vocabulary = manifest.get("caption_vocabulary")
    words = np.empty((n, len(vocabulary)), np.uint8) if vocabulary else None
    for name in manifest["shards"]:
        found = read_entry(folder / name)
        if found is None:
            raise ValueError(f"{folder / name} is missing or torn: delete {folder} and encode again")
        arrays, meta = found
        a, b = int(meta["start"]), int(meta["stop"])
        for key in out:
            out[key][a:b] = arrays[key]
        if attributes is not None:
            attributes[a:b] = arrays["attributes"]
        if words is not None:
            if "caption_words" not in arrays:
                raise ValueError(f"{folder / name} has no caption words though its manifest names a vocabulary: "
                                 f"delete {folder} and encode again")
            words[a:b] = arrays["caption_words"]
    return EncodedSplit(out["means"], out["logvars"], out["elbo"], out["kl"], out["labels"], attributes, names, folder,
                        words, vocabulary)


def encode_splits(
    model: VAE, data: DataSplit, splits: Sequence[str], digest: str, *, data_options: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None, **options: Any,
) -> dict[str, EncodedSplit]:
    """`encode_dataset` of each named split ("test", "train") of a DataSplit into its cache folder, keyed by
    the weights digest, the data set with its options, and the encoding options."""
    out = {}
    for split in splits:
        dataset = data.test if split == "test" else data.train
        key_options = {**(data_options or {}), **{k: v for k, v in options.items() if k in (
            "batch_size", "shard_size", "seed", "limit")}}
        folder = encode_folder(digest, data.name, split, key_options, cache_dir)
        info = {"dataset": data.name, "split": split, "options": dict(data_options or {}),
                "classes": list(data.classes) if data.classes else None, "image_shape": list(data.image_shape)}
        out[split] = encode_dataset(model, dataset, folder, description=f"encoding {data.name} ({split})", info=info,
                                    **options)
    return out
