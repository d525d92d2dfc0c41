"""`shapes`: captioned 32x32 RGB images drawn deterministically from a seed, with a fixed caption grammar.

Each image holds one or two flat-coloured shapes on black: a circle, square or triangle, in one of seven
colours, small or large, centred in one of the nine cells of a 3 x 3 grid (with up to 0.3 pixel of jitter).
Colours are the corners of the RGB cube, so every pixel is exactly 0 or 1 in every channel: the images are
binary and a Bernoulli likelihood is a proper one for them (binarisation changes nothing).

Object order: with two shapes, the first-named object is the one earlier in reading order (upper row first,
then left column), so the picture determines the caption. The label is the first-named object's shape.

Grammar (three phrasings per image; every caption names the first object's size, colour, shape and cell):

    one object:   a {size} {colour} {shape} {place}
                  there is a {size} {colour} {shape} {place}
                  {place} there is a {size} {colour} {shape}
    two objects:  a {o1} {place1} {relation} a {o2}
                  there is a {o1} {place1} {relation} a {o2}
                  a {o1} {place1} and a {o2} {place2}

    {o}        = {size} {colour} {shape}
    {place}    = in the top left | at the top | in the top right | on the left | in the center | on the right |
                 in the bottom left | at the bottom | in the bottom right
    {relation} = above (the first object is in a higher row) | to the left of (same row)

`parse_caption` reads any of these back into attributes.

`single=True`: one object per image, its colour, shape, size and cell drawn uniformly and independently (own
random stream, so the default set is unchanged), with the same jitter; the four are the set's known factors
(`extras["factors"]`, a FactorTable over all the items: colour 7 x shape 3 x size 2 x position 9), read by the
disentanglement metrics. Streamed on demand, without captions.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Subset

from explorer.data.base import DataSplit, seeded_split
from explorer.data.captions import make_captioned_split
from explorer.data.factors import FactorTable

SIZE = 32
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (1, 1, 0),
    "cyan": (0, 1, 1), "magenta": (1, 0, 1), "white": (1, 1, 1),
}
SHAPES = ("circle", "square", "triangle")
SIZES: dict[str, float] = {"small": 3.5, "large": 5.0}  # "radius" in pixels (half the extent of the shape)
PLACES = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right")  # row-major
PREPOSITION = {"top": "at the", "bottom": "at the", "left": "on the", "right": "on the"}  # others: "in the"
RELATIONS = ("above", "to the left of")
JITTER = 0.3  # keeps two large shapes in neighbouring cells apart (centres >= 10.07 px, extents 10 px)
SPLIT_SEED = 0
TEST_FRACTION = 0.1
MAX_CAPTION_LEN = 24


def place_phrase(place: str) -> str:
    return f"{PREPOSITION.get(place, 'in the')} {place}"


def _object(size: str, colour: str, shape: str) -> str:
    return f"{size} {colour} {shape}"


def captions_for(objects: list[dict[str, Any]]) -> list[str]:
    """The three phrasings for one image's objects (first-named first)."""
    a = objects[0]
    oa, pa = _object(a["size"], a["colour"], a["shape"]), place_phrase(a["position"])
    if len(objects) == 1:
        return [f"a {oa} {pa}", f"there is a {oa} {pa}", f"{pa} there is a {oa}"]
    b = objects[1]
    ob, pb = _object(b["size"], b["colour"], b["shape"]), place_phrase(b["position"])
    rel = a["relation"]
    return [f"a {oa} {pa} {rel} a {ob}", f"there is a {oa} {pa} {rel} a {ob}", f"a {oa} {pa} and a {ob} {pb}"]


# -- parsing ---------------------------------------------------------------------------------------
_OBJ = r"(?P<{p}size>small|large) (?P<{p}colour>{c}) (?P<{p}shape>{s})"
_PLACE = r"(?:in|at|on) the (?P<{p}position>top left|top right|bottom left|bottom right|top|bottom|left|right|center)"


def _obj(prefix: str) -> str:
    return _OBJ.format(p=prefix, c="|".join(COLOURS), s="|".join(SHAPES))


def _place(prefix: str) -> str:
    return _PLACE.format(p=prefix)


_GRAMMAR = [
    re.compile(rf"^(?:there is )?a {_obj('')} {_place('')}$"),
    re.compile(rf"^{_place('')} there is a {_obj('')}$"),
    re.compile(rf"^(?:there is )?a {_obj('')} {_place('')} (?P<relation>above|to the left of) a {_obj('second_')}$"),
    re.compile(rf"^a {_obj('')} {_place('')} and a {_obj('second_')} {_place('second_')}$"),
]
_KEYS = ("size", "colour", "shape", "position", "relation", "second_size", "second_colour", "second_shape", "second_position")


def parse_caption(text: str) -> dict[str, Any]:
    """Attributes named by a caption: size, colour, shape, position of the first object, relation and the
    second object's attributes (None where not named), and `grammatical` (the whole caption fits the grammar).

    A caption outside the grammar is read leniently: the first size, colour and shape words, and the first
    place phrase, count as the first object's.
    """
    words = " ".join(re.findall(r"[a-z]+", text.lower()))
    out: dict[str, Any] = {k: None for k in _KEYS}
    for rule in _GRAMMAR:
        m = rule.match(words)
        if m:
            out.update({k: v for k, v in m.groupdict().items() if v is not None})
            out["grammatical"] = True
            return out
    for key, pattern in (("size", "small|large"), ("colour", "|".join(COLOURS)), ("shape", "|".join(SHAPES))):
        m = re.search(rf"\b({pattern})\b", words)
        out[key] = m.group(1) if m else None
    m = re.search(_place(""), words)
    out["position"] = m.group("position") if m else None
    out["grammatical"] = False
    return out


# -- drawing ---------------------------------------------------------------------------------------
def _masks(shape_id: np.ndarray, radius: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """(N, 32, 32) bool masks of one shape per image, all images at once."""
    grid = np.arange(SIZE, dtype=np.float32) + 0.5
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    r = radius[:, None, None]
    circle = dx**2 + dy**2 <= r**2
    square = np.maximum(np.abs(dx), np.abs(dy)) <= 0.8 * r
    triangle = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)  # apex up, base as wide as it is tall
    sid = shape_id[:, None, None]
    return np.where(sid == 0, circle, np.where(sid == 1, square, triangle))


def draw_shape_parameters(n_images: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Everything that defines n images, drawn from `seed` (about 25 bytes an image, no pixels): `two` (N,),
    `cell`, `shape`, `colour`, `size` (N, 2) int8 and `jitter` (N, 2, 2) float32. Image i is the same
    whether it is drawn with the others (`generate_shapes`) or alone (`render_shapes`, `ShapesStream`)."""
    rng = np.random.default_rng(seed)
    n = n_images
    two = rng.random(n) < 0.5
    cell = np.stack([rng.integers(0, 9, n), rng.integers(0, 8, n)], 1)
    cell[:, 1] += cell[:, 1] >= cell[:, 0]  # a different cell for the second object
    cell = np.sort(cell, axis=1)  # reading order: the first-named object is the earlier cell
    one = ~two
    cell[one, 0] = rng.integers(0, 9, one.sum())  # a single object may sit in any cell
    shape = rng.integers(0, len(SHAPES), (n, 2))
    colour = rng.integers(0, len(COLOURS), (n, 2))
    size = rng.integers(0, len(SIZES), (n, 2))
    jitter = rng.uniform(-JITTER, JITTER, (n, 2, 2))
    return {"two": two, "cell": cell.astype(np.int8), "shape": shape.astype(np.int8), "colour": colour.astype(np.int8),
            "size": size.astype(np.int8), "jitter": jitter.astype(np.float32)}


def draw_single_parameters(n_images: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Like `draw_shape_parameters`, for images of one object each: cell, shape, colour and size uniform and
    independent (the second slot is drawn but never shown)."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own: the two-object set's draws stay as they are
    n = n_images
    cell = np.stack([rng.integers(0, 9, n), np.zeros(n, dtype=np.int64)], 1)
    return {"two": np.zeros(n, dtype=bool), "cell": cell.astype(np.int8),
            "shape": rng.integers(0, len(SHAPES), (n, 2)).astype(np.int8),
            "colour": rng.integers(0, len(COLOURS), (n, 2)).astype(np.int8),
            "size": rng.integers(0, len(SIZES), (n, 2)).astype(np.int8),
            "jitter": rng.uniform(-JITTER, JITTER, (n, 2, 2)).astype(np.float32)}


SINGLE_FACTORS = ("colour", "shape", "size", "position")


def single_factor_table(params: dict[str, np.ndarray]) -> np.ndarray:
    """The factors (N, 4) int64 of single-object parameters: colour, shape, size, position (cell, row-major)."""
    return np.stack([params["colour"][:, 0], params["shape"][:, 0], params["size"][:, 0], params["cell"][:, 0]],
                    1).astype(np.int64)


def render_shapes(params: dict[str, np.ndarray], index: np.ndarray | slice | None = None) -> np.ndarray:
    """Images uint8 (M, 3, 32, 32) in {0, 255} of the items `index` (all when None) of `draw_shape_parameters`."""
    p = {k: v if index is None else v[index] for k, v in params.items()}
    two, cell, shape, colour, size = p["two"], p["cell"].astype(np.int64), p["shape"], p["colour"], p["size"]
    jitter = p["jitter"].astype(np.float64)
    step = SIZE / 3
    radii = np.array(list(SIZES.values()), dtype=np.float32)
    palette = np.array(list(COLOURS.values()), dtype=np.uint8) * 255  # (7, 3)
    images = np.zeros((len(two), 3, SIZE, SIZE), dtype=np.uint8)
    for slot in (1, 0):  # no two cells overlap, so the order only matters for the (disjoint) masks
        cx = ((cell[:, slot] % 3) + 0.5) * step + jitter[:, slot, 0]
        cy = ((cell[:, slot] // 3) + 0.5) * step + jitter[:, slot, 1]
        mask = _masks(shape[:, slot], radii[size[:, slot]], cx.astype(np.float32), cy.astype(np.float32))
        if slot == 1:
            mask &= two[:, None, None]
        images = np.where(mask[:, None], palette[colour[:, slot]][:, :, None, None], images)
    return images


def generate_shapes(n_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
    """n images uint8 (N, 3, 32, 32) in {0, 255}, labels (N,) and each image's objects (first-named first)."""
    params = draw_shape_parameters(n_images, seed)
    images = render_shapes(params)
    two, cell, shape, colour, size = params["two"], params["cell"], params["shape"], params["colour"], params["size"]
    colour_names, size_names = list(COLOURS), list(SIZES)
    objects: list[list[dict[str, Any]]] = []
    for i in range(n_images):
        objs = []
        for slot in range(2 if two[i] else 1):
            objs.append({"shape": SHAPES[shape[i, slot]], "colour": colour_names[colour[i, slot]],
                         "size": size_names[size[i, slot]], "position": PLACES[cell[i, slot]]})
        if two[i]:
            objs[0]["relation"] = "above" if cell[i, 0] // 3 < cell[i, 1] // 3 else "to the left of"
        objects.append(objs)
    return images, shape[:, 0].astype(np.int64), objects


class ShapesStream(TorchDataset):
    """n generated shapes images drawn on demand: only the parameters are held (~25 bytes an image), never the
    pixels, so any count streams through a DataLoader. Items are (image float32 (3, 32, 32) in {0, 1}, label:
    the first-named shape); `__getitems__` draws a whole batch at once. Image i equals generate_shapes' i-th."""

    def __init__(self, n_images: int, seed: int = 0, single: bool = False):
        self.params = (draw_single_parameters if single else draw_shape_parameters)(n_images, seed)
        self.labels = torch.from_numpy(self.params["shape"][:, 0].astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, index: np.ndarray) -> torch.Tensor:
        """Images float32 (M, 3, 32, 32) of the given item indices."""
        return torch.from_numpy(render_shapes(self.params, np.asarray(index, dtype=np.int64))).float().div_(255.0)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images(np.array([index]))[0], int(self.labels[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        images = self.images(np.asarray(indices))
        return [(img, int(self.labels[i])) for img, i in zip(images, indices)]


def load_shapes_stream(n_images: int, seed: int = 0) -> DataSplit:
    """`shapes` of any count, drawn on demand (no captions): the same images and fixed 90/10 split as
    `load_shapes` with these arguments, for encoding or evaluating millions of items."""
    full = ShapesStream(n_images, seed)
    n_test = max(1, round(TEST_FRACTION * n_images))
    train_idx, test_idx = seeded_split(n_images, n_test, SPLIT_SEED)
    return DataSplit(
        "shapes", Subset(full, train_idx.tolist()), Subset(full, test_idx.tolist()), (3, SIZE, SIZE), "bernoulli",
        classes=list(SHAPES),
        description=(f"shapes: {n_images:,} generated 32x32 images (seed {seed}), drawn on demand; "
                     f"{n_images - n_test:,} train / {n_test:,} test"),
    )


def load_shapes(root: str | None = None, download: bool = False, n_images: int = 10000, seed: int = 0,
                labeled_fraction: float = 1.0, captioned_fraction: float = 1.0, lazy: bool = False,
                single: bool = False) -> DataSplit:
    """The embedded captioned data set: n_images generated from `seed`, 10% held out by a fixed split.
    lazy=True: the same images drawn on demand, without captions (`load_shapes_stream`), for any count.
    single=True: one object per image, with its factors (`load_single_shapes`)."""
    if single:
        return load_single_shapes(n_images, seed)
    if lazy:
        return load_shapes_stream(n_images, seed)
    images, labels, objects = generate_shapes(n_images, seed)
    captions = [captions_for(objs) for objs in objects]
    truth = [dict(objs[0]) for objs in objects]
    n_test = max(1, round(TEST_FRACTION * n_images))
    train_idx, test_idx = seeded_split(n_images, n_test, SPLIT_SEED)
    return make_captioned_split(
        "shapes", torch.from_numpy(images), torch.from_numpy(labels), captions, test_idx, train_idx,
        likelihood="bernoulli", classes=list(SHAPES), seed=seed, labeled_fraction=labeled_fraction,
        captioned_fraction=captioned_fraction, max_len=MAX_CAPTION_LEN, attributes=truth,
        description=(f"shapes: {n_images} generated 32x32 images (seed {seed}) of one or two coloured shapes with "
                     f"three caption phrasings each; {n_images - n_test} train / {n_test} test"),
        extras={"parse_caption": parse_caption, "captions_for": captions_for, "grammar": __doc__},
    )


def load_single_shapes(n_images: int = 10000, seed: int = 0) -> DataSplit:
    """`shapes` with one object per image (see the module docstring), drawn on demand, the same 90/10 split;
    its factors (colour, shape, size, position) of every item are `extras["factors"]`."""
    full = ShapesStream(n_images, seed, single=True)
    n_test = max(1, round(TEST_FRACTION * n_images))
    train_idx, test_idx = seeded_split(n_images, n_test, SPLIT_SEED)
    table = single_factor_table(full.params)
    sizes = (len(COLOURS), len(SHAPES), len(SIZES), len(PLACES))
    # over every item, as dSprites' grid is (the metrics judge the code, not generalisation); batched rendering
    factors = FactorTable("shapes", SINGLE_FACTORS, table, full.images, (3, SIZE, SIZE), sizes)
    return DataSplit(
        "shapes", Subset(full, train_idx.tolist()), Subset(full, test_idx.tolist()), (3, SIZE, SIZE), "bernoulli",
        classes=list(SHAPES),
        description=(f"shapes (one object each): {n_images:,} generated 32x32 images (seed {seed}), drawn on demand; "
                     f"{n_images - n_test:,} train / {n_test:,} test; factors colour x shape x size x position"),
        extras={"factors": factors},
    )
