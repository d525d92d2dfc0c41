"""Data sets with known generative factors: the interface the disentanglement metrics sample through.

A `FactorData` names its K factors and the number of values each takes (`factor_names`, `factor_sizes`; every
factor value is an integer index 0..size-1), and gives images for factor values. The metrics need three draws:

- `sample(n, rng)`: n items, factors (n, K) int64 and images (n, C, H, W) float in [0, 1];
- `sample_matching(values, k, rng)`: n items whose factor k equals `values` (n,) item by item, the others
  drawn afresh ("a batch with factor k fixed": pass one value repeated n times);
- `images(factors)`: the images of given factor rows, where every combination exists (`is_grid`).

Two kinds: a full grid of factor combinations rendered on demand (`FactorGrid`: dSprites, every combination
exists exactly once, an item's index is its mixed-radix number), and a table of labelled items (`FactorTable`:
CelebA's attributes, a folder's factors.csv), where only the combinations present can be drawn.

`factors_of(split)` reads a DataSplit's factors (kept in `extras["factors"]`) and refuses a data set without
them, naming those that have them.
"""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from explorer.data.base import DataSplit

# the data sets whose loaders attach factors (for the message a factor-less data set gets)
FACTOR_DATASETS = ("dsprites", "dsprites-colour", "shapes (single=True)", "celeba", "folder (with factors.csv)")


class FactorData(ABC):
    """K discrete generative factors and the images they give (see the module docstring)."""

    name: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    image_shape: tuple[int, ...]
    is_grid: bool = False  # every combination of factor values exists (images(factors) is defined for any row)

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        """n random items: factors (n, K) int64 and images (n, C, H, W) float32 in [0, 1]."""

    @abstractmethod
    def sample_matching(self, values: np.ndarray, k: int | np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        """len(values) random items whose factor k (one factor, or one per item (n,)) equals values (n,) item by
        item, the other factors drawn afresh: factors (n, K), images."""

    def describe(self) -> dict[str, Any]:
        """Names and sizes, for cards and pages."""
        return {"name": self.name, "factors": dict(zip(self.factor_names, self.factor_sizes))}


class FactorGrid(FactorData):
    """Every combination of factor values exists exactly once; item i has the mixed-radix digits of i (the
    last factor varies fastest, as in dSprites' file). Subclasses implement `images(factors)`."""

    is_grid = True
    # names where the images come from, in cache keys of encoded grids: a renderer's version (bump it when the
    # geometry changes) or a file's digest
    cache_tag: str = "render-v1"

    def __init__(self, name: str, factor_names: tuple[str, ...], factor_sizes: tuple[int, ...],
                 image_shape: tuple[int, ...]):
        self.name, self.factor_names, self.image_shape = name, tuple(factor_names), tuple(image_shape)
        self.factor_sizes = tuple(int(s) for s in factor_sizes)
        # bases[k] = product of the sizes after k: index = factors @ bases
        self.bases = np.concatenate([np.cumprod(self.factor_sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def __len__(self) -> int:
        return int(np.prod(self.factor_sizes))

    def index_of(self, factors: np.ndarray) -> np.ndarray:
        """Item indices (n,) of factor rows (n, K)."""
        return np.asarray(factors, dtype=np.int64) @ self.bases

    def factors_of(self, index: np.ndarray) -> np.ndarray:
        """Factor rows (n, K) int64 of item indices (n,)."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        return (index[:, None] // self.bases[None, :]) % np.asarray(self.factor_sizes)[None, :]

    def check_factors(self, factors: np.ndarray) -> np.ndarray:
        """factors as (n, K) int64, refusing rows outside the grid with a message naming the factor."""
        f = np.asarray(factors, dtype=np.int64).reshape(-1, self.num_factors)
        for k, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
            bad = (f[:, k] < 0) | (f[:, k] >= size)
            if bad.any():
                raise ValueError(f"{self.name}: factor {name!r} takes values 0..{size - 1}, got {f[bad, k][0]}")
        return f

    @abstractmethod
    def images(self, factors: np.ndarray) -> Tensor:
        """Images (n, C, H, W) float32 in [0, 1] of factor rows (n, K)."""

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n factor rows (n, K) drawn uniformly from the grid."""
        return np.stack([rng.integers(0, s, n) for s in self.factor_sizes], axis=1).astype(np.int64)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        f = self.sample_factors(n, rng)
        return f, self.images(f)

    def sample_matching(self, values: np.ndarray, k: int | np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        values = np.asarray(values, dtype=np.int64).reshape(-1)
        f = self.sample_factors(len(values), rng)
        f[np.arange(len(values)), np.broadcast_to(np.asarray(k, dtype=np.int64), values.shape)] = values
        return f, self.images(f)


class FactorTable(FactorData):
    """Labelled items: factors (N, K) int of item i, and a function from item indices to images. Draws pick
    items, so only the combinations present in the table occur."""

    def __init__(self, name: str, factor_names: tuple[str, ...], factors: np.ndarray,
                 load_images: Callable[[np.ndarray], Tensor], image_shape: tuple[int, ...],
                 factor_sizes: tuple[int, ...] | None = None):
        table = np.asarray(factors)
        if table.ndim != 2 or table.shape[1] != len(factor_names):
            raise ValueError(f"{name}: factors must be (N, {len(factor_names)}), got {table.shape}")
        if len(table) == 0:
            raise ValueError(f"{name}: the factor table has no items")
        if (table < 0).any():
            raise ValueError(f"{name}: factor values must be integers >= 0")
        self.name, self.factor_names, self.image_shape = name, tuple(factor_names), tuple(image_shape)
        self.table = table.astype(np.int64)
        observed = tuple(int(m) + 1 for m in self.table.max(axis=0))
        sizes = tuple(int(s) for s in (factor_sizes or observed))
        if len(sizes) != len(observed) or any(s < o for s, o in zip(sizes, observed)):
            raise ValueError(f"{name}: factor sizes {sizes} do not cover the values in the table (up to {observed})")
        self.factor_sizes = sizes
        self.load_images = load_images
        # per factor, per value: the items holding it (for sample_matching)
        self._holders = [{int(v): np.flatnonzero(self.table[:, k] == v) for v in np.unique(self.table[:, k])}
                         for k in range(self.num_factors)]

    def __len__(self) -> int:
        return len(self.table)

    def _items(self, index: np.ndarray) -> tuple[np.ndarray, Tensor]:
        return self.table[index], self.load_images(index)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        return self._items(rng.integers(0, len(self.table), n))

    def sample_matching(self, values: np.ndarray, k: int | np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, Tensor]:
        values = np.asarray(values, dtype=np.int64).reshape(-1)
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), values.shape)
        index = np.empty(len(values), dtype=np.int64)
        for kk, v in np.unique(np.stack([ks, values], 1), axis=0):
            holders = self._holders[kk].get(int(v))
            if holders is None:
                raise ValueError(f"{self.name}: no item has factor {self.factor_names[kk]!r} = {v}")
            where = np.flatnonzero((values == v) & (ks == kk))
            index[where] = holders[rng.integers(0, len(holders), len(where))]
        return self._items(index)


def table_from_dataset(name: str, factor_names: tuple[str, ...], factors: np.ndarray, dataset: Dataset,
                       image_shape: tuple[int, ...], factor_sizes: tuple[int, ...] | None = None,
                       items: np.ndarray | None = None) -> FactorTable:
    """A FactorTable over a torch Dataset: row i of `factors` belongs to dataset item items[i] (item i when
    `items` is None); images are the items' first elements."""
    where = np.arange(len(factors)) if items is None else np.asarray(items, dtype=np.int64)

    def load(index: np.ndarray) -> Tensor:
        if not len(index):
            return torch.zeros((0, *image_shape))
        return torch.stack([dataset[int(where[i])][0] for i in index])

    return FactorTable(name, factor_names, factors, load, image_shape, factor_sizes)


FACTORS_CSV = "factors.csv"


def read_factors_csv(path: str | Path) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """A factors.csv: a header (file column, then one column per factor) and one row per image, the file name
    relative to the folder, then integers >= 0. Returns (factor names, {file name: values (K,)}); a ValueError
    naming the row and column of anything else."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r and any(cell.strip() for cell in r)]
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ValueError(f"{path}: expected a header (file, factor, ...) and at least one row")
    names = tuple(c.strip() for c in rows[0][1:])
    if len(set(names)) != len(names) or not all(names):
        raise ValueError(f"{path}: factor column names must be distinct and non-empty, got {list(names)}")
    table: dict[str, np.ndarray] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names) + 1:
            raise ValueError(f"{path} line {line}: {len(row)} columns, the header has {len(names) + 1}")
        values = []
        for name, cell in zip(names, row[1:]):
            try:
                value = int(cell.strip())
            except ValueError:
                raise ValueError(f"{path} line {line}: factor {name!r} must be an integer >= 0, got {cell!r}") from None
            if value < 0:
                raise ValueError(f"{path} line {line}: factor {name!r} must be an integer >= 0, got {value}")
            values.append(value)
        key = Path(row[0].strip()).as_posix()
        if key in table:
            raise ValueError(f"{path} line {line}: {key!r} is listed twice")
        table[key] = np.array(values, dtype=np.int64)
    return names, table


def folder_factors(root: Path, paths: list[str], dataset: Dataset, image_shape: tuple[int, ...],
                   name: str = "folder") -> FactorTable | None:
    """The factors of an image folder from its factors.csv (None when it has none): dataset item i is the file
    paths[i]; items the csv does not list are left out of the table; a csv name that is no image of the folder
    is refused."""
    csv_path = Path(root) / FACTORS_CSV
    if not csv_path.is_file():
        return None
    names, table = read_factors_csv(csv_path)
    relative = [Path(p).resolve().relative_to(Path(root).resolve()).as_posix() for p in paths]
    unknown = sorted(set(table) - set(relative))
    if unknown:
        raise ValueError(f"{csv_path} lists {len(unknown)} file(s) that are no readable image of the folder, "
                         f"e.g. {unknown[:3]}")
    items = np.array([i for i, r in enumerate(relative) if r in table], dtype=np.int64)
    factors = np.stack([table[relative[i]] for i in items])
    return table_from_dataset(name, names, factors, dataset, image_shape, items=items)


class GridItems(Dataset):
    """The items of a FactorGrid at given indices, as (image float32 (C, H, W), label) for training, label =
    the value of factor `label_factor`; `__getitems__` renders a whole batch at once."""

    def __init__(self, grid: FactorGrid, indices: np.ndarray, label_factor: int = 0):
        self.grid, self.indices, self.label_factor = grid, np.asarray(indices, dtype=np.int64), label_factor

    def __len__(self) -> int:
        return len(self.indices)

    def images(self, positions: np.ndarray) -> Tensor:
        """Images (M, C, H, W) of the items at the given positions of this subset."""
        return self.grid.images(self.grid.factors_of(self.indices[np.asarray(positions, dtype=np.int64)]))

    def __getitem__(self, position: int) -> tuple[Tensor, int]:
        return self.__getitems__([position])[0]

    def __getitems__(self, positions: list[int]) -> list[tuple[Tensor, int]]:
        index = self.indices[np.asarray(positions, dtype=np.int64)]
        factors = self.grid.factors_of(index)
        images = self.grid.images(factors)
        return [(img, int(f[self.label_factor])) for img, f in zip(images, factors)]


def factors_of(split: DataSplit) -> FactorData:
    """The known factors of a data set; a ValueError naming the data sets that have them when it has none."""
    factors = split.extras.get("factors")
    if not isinstance(factors, FactorData):
        raise ValueError(f"the data set {split.name!r} has no known factors; data sets with factors: "
                         f"{', '.join(FACTOR_DATASETS)}")
    return factors
