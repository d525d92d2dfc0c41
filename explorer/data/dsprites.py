"""dSprites, rendered here from its factors, and a colour variant with two more factors.

The grid (as in DeepMind's `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`, less its one-valued colour column):
3 shapes (square, ellipse, heart) x 6 scales x 40 orientations x 32 x-positions x 32 y-positions = 737,280
binary 64x64 images. Item i has the mixed-radix digits of i (posY fastest), the file's order. Factor values:
scale `linspace(0.5, 1, 6)`, orientation `linspace(0, 2 pi, 40)` (so orientation 0 and 39 are the same angle
and render the same image, as in the file), posX and posY `linspace(0, 1, 32)`. Images are rendered on demand
from the factors (`DSprites.images`); no array of the 737,280 images is ever held.

Geometry assumed here (the original generator is not published; the file is the reference for its own images):
- Pixel (row r, column c) is the point (c + 0.5, r + 0.5) in pixel units; x grows rightwards, y downwards
  (posY = 0 is the top row), as image rows do.
- The shape's centre is (16 + 32 posX, 16 + 32 posY): it moves over the middle 32 pixels in 31 steps of
  32/31 px, so that every shape at every angle stays inside the 64 px frame (the widest, the square's
  half-diagonal, is 14.2 px at scale 1).
- Unit length R = 10 px x scale. In the shape's own frame (u, v) = the pixel's offset from the centre divided
  by R, with v pointing up, rotated by minus the orientation (so the shape turns anticlockwise on screen as
  the orientation grows):
    square   max(|u|, |v|) <= 1                          (side 2R: 20 px at scale 1, 10 px at 0.5)
    ellipse  (u / 1.25)^2 + (v / 0.625)^2 <= 1           (axes 2.5R by 1.25R, long axis horizontal at 0)
    heart    (x^2 + y^2 - 1)^3 <= x^2 y^3, x = u, y = v + 0.29   (the classic sextic heart, point down at
             orientation 0, shifted so that its centroid is the centre; its point is 12.9 px from it)
- No anti-aliasing: a pixel is 1 when its centre is inside the shape, else 0. The orientation is taken
  modulo 2 pi before its sine and cosine, so orientation 39 gives exactly the rotation of orientation 0.

Identical images: the 18,432 (orientation 0, orientation 39) pairs, and, since a binary raster cannot resolve
every turn of a small shape, squares (90-degree symmetry) and small ellipses (180) turned by a near-multiple of
their symmetry (within two steps, mostly 2.3 degrees off), and 4 pairs of neighbouring turns of the smallest
heart: 713,164 distinct images in all. No two images of different shapes, scales or positions coincide
(tests/data/test_dsprites.py checks all of this on the full grid).

`colour=True` (`dsprites-colour`): 3x64x64 RGB images with two more factors in front, the object's colour (6
saturated hues) and the background's hue (4 dark tints), 6 x 4 x 737,280 = 17,694,720 items, same geometry.

`root` pointing at the original npz (or the folder holding it) uses its images instead: its `imgs` are read
in chunks straight from the zip member and kept bit-packed (737,280 x 512 bytes = 377 MB, not 3 GB), with
no pickle loaded (np.load with allow_pickle=False for `latents_classes`; the array header for `imgs`). Its grid
sizes are read from `latents_classes`, which must list every combination once, in the file's order.
"""

from __future__ import annotations

import colorsys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.cache import file_digest
from explorer.data.base import DataSplit, seeded_split
from explorer.data.factors import FactorGrid, GridItems

FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SIZE = 64
SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)
UNIT_PX = 10.0  # R at scale 1
MARGIN_PX = 16.0  # the centre moves over [16, 48]
SPAN_PX = 32.0
ELLIPSE_AXES = (1.25, 0.625)
HEART_SHIFT = 0.29  # the sextic heart's centroid is at y = 0.293 of its own units
OBJECT_HUES = tuple(h / 6 for h in range(6))  # red, yellow, green, cyan, blue, magenta at full saturation
BACKGROUND_HUES = (0.0, 0.25, 0.5, 0.75)  # dark tints: saturation 0.5, value 0.3
TEST_FRACTION = 0.1
SPLIT_SEED = 0


def factor_values(factors: np.ndarray) -> dict[str, np.ndarray]:
    """The real values of dSprites factor rows (n, 5): shape index, scale, orientation (radians), posX, posY."""
    f = np.asarray(factors, dtype=np.int64)
    return {"shape": f[:, 0], "scale": SCALES[f[:, 1]], "orientation": ORIENTATIONS[f[:, 2]],
            "posX": POSITIONS[f[:, 3]], "posY": POSITIONS[f[:, 4]]}


WINDOW = 32  # rows and columns evaluated around the centre: the widest shape reaches 14.2 px from it


def _shape_mask(shape: int, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Inside-tests in the shape's own frame (u right, w up, unit R)."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(w)) <= 1.0
    if shape == 1:
        return (u / ELLIPSE_AXES[0]) ** 2 + (w / ELLIPSE_AXES[1]) ** 2 <= 1.0
    y = w + HEART_SHIFT
    u2 = u * u
    return (u2 + y * y - 1.0) ** 3 <= u2 * y**3


def render_masks(factors: np.ndarray) -> np.ndarray:
    """Binary masks bool (n, 64, 64) of dSprites factor rows (n, 5) (geometry: the module docstring).

    Only a WINDOW x WINDOW block around each centre is evaluated (every shape lies inside it), each shape's
    test on its own images: about 1/20 of the work of testing every pixel against every shape. The rows go
    through in blocks of RENDER_BLOCK, so that the float64 (block, W, W) temporaries (2 MB each) stay in the CPU's
    cache: 4-6x faster than one pass over 16,384 rows (134 MB a temporary), with the same arithmetic per pixel."""
    f = np.asarray(factors, dtype=np.int64)
    canvas = np.zeros((len(f), SIZE, SIZE), dtype=bool)
    for start in range(0, len(f), RENDER_BLOCK):
        canvas[start:start + RENDER_BLOCK] = _render_block(f[start:start + RENDER_BLOCK])
    return canvas


RENDER_BLOCK = 256  # rows per pass of _render_block


def _render_block(f: np.ndarray) -> np.ndarray:
    """render_masks for one block of int64 factor rows (n, 5): bool (n, 64, 64)."""
    n = len(f)
    v = factor_values(f)
    theta = np.mod(v["orientation"], 2 * np.pi)  # 2 pi -> exactly 0, so orientation 39 renders as 0
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    unit = (UNIT_PX * v["scale"])[:, None, None]
    cx = MARGIN_PX + SPAN_PX * v["posX"]  # (n,) pixel units
    cy = MARGIN_PX + SPAN_PX * v["posY"]
    c0 = np.floor(cx).astype(np.int64) - WINDOW // 2  # (n,) first column / row of the window: 0..32
    r0 = np.floor(cy).astype(np.int64) - WINDOW // 2
    offs = np.arange(WINDOW)
    cols = c0[:, None] + offs[None, :]  # (n, W)
    rows = r0[:, None] + offs[None, :]
    dx = ((cols + 0.5 - cx[:, None]))[:, None, :] / unit  # (n, 1, W)
    dy = ((cy[:, None] - rows - 0.5))[:, :, None] / unit  # (n, W, 1), pointing up
    u = cos * dx + sin * dy  # (n, W, W): the pixel rotated by -theta into the shape's frame
    w = cos * dy - sin * dx
    inside = np.zeros((n, WINDOW, WINDOW), dtype=bool)
    for shape in range(len(SHAPES)):
        sel = np.flatnonzero(v["shape"] == shape)
        if len(sel):
            inside[sel] = _shape_mask(shape, u[sel], w[sel])
    canvas = np.zeros((n, SIZE * SIZE), dtype=bool)
    flat = (rows[:, :, None] * SIZE + cols[:, None, :]).reshape(n, -1)  # (n, W*W) pixel indices
    canvas[np.arange(n)[:, None], flat] = inside.reshape(n, -1)
    return canvas.reshape(n, SIZE, SIZE)


class DSprites(FactorGrid):
    """The 737,280 binary dSprites images rendered from their factors: images (n, 1, 64, 64) float in {0, 1}."""

    def __init__(self) -> None:
        super().__init__("dsprites", FACTOR_NAMES, FACTOR_SIZES, (1, SIZE, SIZE))

    def images(self, factors: np.ndarray) -> Tensor:
        f = self.check_factors(factors)
        return torch.from_numpy(render_masks(f)).unsqueeze(1).float()


def _hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb(hue, saturation, value)


OBJECT_RGB = np.array([_hsv(h, 1.0, 1.0) for h in OBJECT_HUES], dtype=np.float64)  # (6, 3)
BACKGROUND_RGB = np.array([_hsv(h, 0.5, 0.3) for h in BACKGROUND_HUES], dtype=np.float64)  # (4, 3)


class ColourDSprites(FactorGrid):
    """dSprites with the object's colour and the background's hue as two more (leading) factors: images
    (n, 3, 64, 64) float, 8-bit values (the colours are rounded to 1/255)."""

    def __init__(self) -> None:
        super().__init__("dsprites-colour", ("colour", "background", *FACTOR_NAMES),
                         (len(OBJECT_HUES), len(BACKGROUND_HUES), *FACTOR_SIZES), (3, SIZE, SIZE))
        self.object_rgb = np.round(OBJECT_RGB * 255) / 255
        self.background_rgb = np.round(BACKGROUND_RGB * 255) / 255

    def images(self, factors: np.ndarray) -> Tensor:
        f = self.check_factors(factors)
        mask = render_masks(f[:, 2:])[:, None]  # (n, 1, 64, 64)
        obj = self.object_rgb[f[:, 0]][:, :, None, None]  # (n, 3, 1, 1)
        back = self.background_rgb[f[:, 1]][:, :, None, None]
        return torch.from_numpy(np.where(mask, obj, back)).float()


class DSpritesFile(FactorGrid):
    """dSprites read from DeepMind's npz: its images bit-packed in memory, indexed by factors (see the module
    docstring for what is checked)."""

    def __init__(self, path: str | Path, chunk: int = 8192):
        path = Path(path)
        with np.load(path, allow_pickle=False) as npz:
            if "latents_classes" not in npz.files or "imgs" not in npz.files:
                raise ValueError(f"{path} is not dSprites' npz: it holds {sorted(npz.files)}, "
                                 "expected imgs and latents_classes")
            classes = np.asarray(npz["latents_classes"])
        if classes.ndim != 2 or classes.shape[1] != 6:
            raise ValueError(f"{path}: latents_classes must be (N, 6) (colour, shape, scale, orientation, posX, "
                             f"posY), got {classes.shape}")
        if classes[:, 0].any():
            raise ValueError(f"{path}: the colour column of latents_classes must hold one value (0)")
        sizes = tuple(int(m) + 1 for m in classes[:, 1:].max(axis=0))
        super().__init__("dsprites", FACTOR_NAMES, sizes, (1, SIZE, SIZE))
        n = len(self)
        if len(classes) != n or not np.array_equal(self.index_of(classes[:, 1:]), np.arange(n)):
            raise ValueError(f"{path}: latents_classes must list each of the {n:,} combinations of the grid "
                             f"{sizes} once, in order (the last factor fastest)")
        self.path = path
        self.cache_tag = f"file-{file_digest(path)[:16]}"
        self.packed = self._read_packed(path, n, chunk)  # (N, 64, 8) uint8

    @staticmethod
    def _read_packed(path: Path, n: int, chunk: int) -> np.ndarray:
        """The `imgs` member (N, 64, 64) of {0, 1} bytes, read `chunk` images at a time and bit-packed."""
        with zipfile.ZipFile(path) as zf, zf.open("imgs.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            if shape != (n, SIZE, SIZE) or fortran or dtype.kind not in "uib" or dtype.itemsize != 1:
                raise ValueError(f"{path}: imgs must be a C-ordered (N, 64, 64) array of bytes with N = {n:,}, "
                                 f"got {shape} {dtype}{' (Fortran order)' if fortran else ''}")
            packed = np.empty((n, SIZE, SIZE // 8), dtype=np.uint8)
            for start in range(0, n, chunk):
                rows = min(chunk, n - start)
                block = np.frombuffer(f.read(rows * SIZE * SIZE), dtype=np.uint8)
                if block.size != rows * SIZE * SIZE:
                    raise ValueError(f"{path}: imgs ends after {start + block.size // (SIZE * SIZE):,} images")
                packed[start:start + rows] = np.packbits(block.reshape(rows, SIZE, SIZE) > 0, axis=-1)
        return packed

    def images(self, factors: np.ndarray) -> Tensor:
        index = self.index_of(self.check_factors(factors))
        return torch.from_numpy(np.unpackbits(self.packed[index], axis=-1)).unsqueeze(1).float()


def find_file(root: str | Path) -> Path:
    """The npz under `root` (the file itself, or `root/<FILE_NAME>`); a DatasetNotFoundError otherwise."""
    path = Path(root).expanduser()
    if path.is_file():
        return path
    if (path / FILE_NAME).is_file():
        return path / FILE_NAME
    from explorer.data.folders import DatasetNotFoundError  # lazy: folders imports torchvision, needed only to fail

    where = f"{path}/ does not exist" if not path.exists() else f"{path} holds no {FILE_NAME}"
    raise DatasetNotFoundError(f"dSprites data set not found: {where}. Pass --data-root the folder holding "
                               f"DeepMind's {FILE_NAME} (or the file), or no --data-root to render dSprites here")


def load_dsprites(root: str | None = None, download: bool = False, colour: bool = False,
                  test_fraction: float = TEST_FRACTION, image_size: int | None = None) -> DataSplit:
    """dSprites (or `colour=True`: the colour variant) as a DataSplit of lazily rendered items (image, shape
    index), a seeded 90/10 split of the whole grid; the factors are `extras["factors"]`. `root`: the original
    npz (see the module docstring); none renders the images here. Nothing is ever downloaded."""
    if image_size not in (None, SIZE):
        raise ValueError(f"dsprites images are {SIZE}x{SIZE}; image_size (--image-size) {image_size} is not accepted")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if colour and root:
        raise ValueError("dsprites-colour is rendered here only; it takes no --data-root")
    grid: FactorGrid = ColourDSprites() if colour else (DSpritesFile(find_file(root)) if root else DSprites())
    n = len(grid)
    n_test = max(1, round(test_fraction * n))
    train_idx, test_idx = seeded_split(n, n_test, SPLIT_SEED)
    label = grid.factor_names.index("shape")
    source = f"read from {grid.path}" if isinstance(grid, DSpritesFile) else "rendered on demand"
    sizes = " x ".join(f"{s} {name}" for name, s in zip(grid.factor_names, grid.factor_sizes))
    return DataSplit(
        grid.name, GridItems(grid, train_idx.numpy(), label), GridItems(grid, test_idx.numpy(), label),
        grid.image_shape, "gaussian" if colour else "bernoulli", classes=list(SHAPES),
        description=(f"{grid.name}: {n:,} {SIZE}x{SIZE} images ({sizes}), {source}; "
                     f"{n - n_test:,} train / {n_test:,} test (seeded split)"),
        extras={"factors": grid},
    )


def load_dsprites_colour(root: str | None = None, download: bool = False, **options: Any) -> DataSplit:
    """The colour variant of dSprites (see the module docstring)."""
    return load_dsprites(root, download, colour=True, **options)
