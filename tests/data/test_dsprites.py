"""dSprites rendered from its factors: the grid, exactness, the geometry, and DeepMind's npz in its layout."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.data import load_dataset
from explorer.data.dsprites import (
    FILE_NAME, POSITIONS, ColourDSprites, DSprites, factor_values, render_masks,
)
from explorer.data.factors import factors_of


@pytest.fixture(scope="module")
def dsprites():
    return DSprites()


def test_the_grid_has_737280_items_in_the_files_order(dsprites):
    assert len(dsprites) == 737_280 == 3 * 6 * 40 * 32 * 32
    index = np.random.default_rng(0).integers(0, len(dsprites), 1000)
    f = dsprites.factors_of(index)
    assert np.array_equal(dsprites.index_of(f), index)
    assert np.array_equal(dsprites.factors_of([1, 32, 737_279]), [[0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [2, 5, 39, 31, 31]])


def _slow_reference(factors: np.ndarray) -> np.ndarray:
    """Every pixel of the 64x64 frame tested against the docstring's geometry, one image at a time."""
    v = factor_values(factors)
    grid = np.arange(64) + 0.5
    out = []
    for i in range(len(factors)):
        r, th = 10 * v["scale"][i], np.mod(v["orientation"][i], 2 * np.pi)
        dx = (grid[None, :] - (16 + 32 * v["posX"][i])) / r
        dy = ((16 + 32 * v["posY"][i]) - grid[:, None]) / r
        u, w = np.cos(th) * dx + np.sin(th) * dy, np.cos(th) * dy - np.sin(th) * dx
        y = w + 0.29
        out.append([np.maximum(abs(u), abs(w)) <= 1, (u / 1.25) ** 2 + (w / 0.625) ** 2 <= 1,
                    (u**2 + y**2 - 1) ** 3 <= u**2 * y**3][v["shape"][i]])
    return np.stack(out)


def test_windowed_renderer_matches_a_whole_frame_reference(dsprites):
    f = dsprites.factors_of(np.random.default_rng(1).integers(0, len(dsprites), 300))
    assert np.array_equal(render_masks(f), _slow_reference(f))


def test_images_are_binary_and_re_rendering_gives_the_same_bytes(dsprites):
    rng = np.random.default_rng(2)
    index = rng.integers(0, len(dsprites), 256)
    a = dsprites.images(dsprites.factors_of(index))
    perm = rng.permutation(256)  # another batch composition and order
    b = dsprites.images(dsprites.factors_of(index[perm]))
    assert a.shape == (256, 1, 64, 64) and a.dtype == torch.float32
    assert set(torch.unique(a).tolist()) <= {0.0, 1.0} and (a.flatten(1).sum(1) > 0).all()
    assert a[perm].numpy().tobytes() == b.numpy().tobytes()


def test_orientation_0_and_39_render_the_same_and_38_does_not(dsprites):
    f0 = dsprites.factors_of(np.random.default_rng(3).integers(0, len(dsprites), 64))
    f0[:, 2] = 0
    f39, f38 = f0.copy(), f0.copy()
    f39[:, 2], f38[:, 2] = 39, 38
    assert torch.equal(dsprites.images(f0), dsprites.images(f39))
    assert not any(torch.equal(a, b) for a, b in zip(dsprites.images(f0), dsprites.images(f38)))


def test_positions_are_read_back_from_the_centroid_within_one_step(dsprites):
    f = dsprites.factors_of(np.random.default_rng(4).integers(0, len(dsprites), 2000))
    masks = render_masks(f).astype(np.float64)
    grid = np.arange(64) + 0.5
    mass = masks.sum((1, 2))
    cx = (masks.sum(1) * grid).sum(1) / mass
    cy = (masks.sum(2) * grid).sum(1) / mass
    step = POSITIONS[1] - POSITIONS[0]
    x_hat = np.round(((cx - 16) / 32) / step)
    y_hat = np.round(((cy - 16) / 32) / step)
    ok = (np.abs(x_hat - f[:, 3]) <= 1) & (np.abs(y_hat - f[:, 4]) <= 1)
    assert ok.mean() >= 0.99


X_STEP, Y_STEP = 3, 5  # positions 0, 3, .., 30 across and 0, 5, .., 30 down: their sub-pixel phases all differ
PINNED_DISTINCT = 53_562  # distinct images at those positions, measured with this geometry


def test_identical_images_are_the_2pi_pairs_and_near_symmetric_turns_of_small_squares_and_ellipses(dsprites):
    # Every image's digest, grouped, over every shape, scale and orientation at 77 of the 1,024 positions (a
    # coincidence is between two turns of one shape at one place; the rendering's sub-pixel phase, not the place,
    # decides it, and these positions span the phases). Orientation 0 and 39 (the same angle) always coincide.
    # Beyond those, a binary 64x64 raster cannot tell a 10 px square turned by 92.3 degrees (10 steps) from one
    # turned by 0: squares (90-degree symmetry), small ellipses (180) and the smallest hearts (360) coincide with
    # near-symmetric turns of themselves, never with another shape, scale or position.
    xs, ys = np.arange(0, 32, X_STEP), np.arange(0, 32, Y_STEP)
    grid = np.stack(np.meshgrid(np.arange(3), np.arange(6), np.arange(40), xs, ys, indexing="ij"), -1).reshape(-1, 5)
    index = dsprites.index_of(grid)
    groups: dict[bytes, list[int]] = {}
    packed = np.packbits(render_masks(dsprites.factors_of(index)), axis=-1)
    for i, row in zip(index, packed):
        groups.setdefault(hashlib.blake2b(row.tobytes(), digest_size=16).digest(), []).append(int(i))
    step = 360 / 39
    zero_pairs = 0
    for members in groups.values():
        if len(members) == 1:
            continue
        f = dsprites.factors_of(members)
        assert (np.delete(f, 2, 1) == np.delete(f, 2, 1)[0]).all(), f  # one shape, scale and position
        orient = set(f[:, 2].tolist())
        zero_pairs += {0, 39} <= orient
        symmetry = {0: 90.0, 1: 180.0, 2: 360.0}[int(f[0, 0])]
        angles = f[:, 2] * step
        off = np.abs((angles - angles[0] + symmetry / 2) % symmetry - symmetry / 2)
        assert off.max() <= 2 * step + 1e-9, (f, off)  # within two steps of a symmetry of the shape
    assert zero_pairs == 3 * 6 * len(xs) * len(ys)  # every (0, 2 pi) pair is identical
    # pinned: a change in the geometry shows (713,164 distinct over the whole grid)
    assert len(groups) == PINNED_DISTINCT


def test_colour_variant_adds_object_colour_and_background_hue():
    grid = ColourDSprites()
    assert grid.factor_names[:2] == ("colour", "background") and grid.factor_sizes == (6, 4, 3, 6, 40, 32, 32)
    f = grid.sample_factors(32, np.random.default_rng(5))
    images = grid.images(f)
    masks = render_masks(f[:, 2:])
    assert images.shape == (32, 3, 64, 64)
    for img, mask, row in zip(images, masks, f):
        assert torch.allclose(img[:, ~torch.from_numpy(mask)].T, torch.tensor(grid.background_rgb[row[1]]).float())
        assert torch.allclose(img[:, torch.from_numpy(mask)].T, torch.tensor(grid.object_rgb[row[0]]).float())
    assert len({tuple(c) for c in grid.object_rgb} | {tuple(c) for c in grid.background_rgb}) == 10


def test_load_dataset_gives_lazy_items_and_the_factors():
    split = load_dataset("dsprites")
    grid = factors_of(split)
    assert len(split.train) + len(split.test) == 737_280 and split.image_shape == (1, 64, 64)
    image, label = split.test[0]
    f = grid.factors_of(split.test.indices[:1])
    assert torch.equal(image, grid.images(f)[0]) and label == f[0, 0]
    batch = split.train.__getitems__([0, 5, 9])
    assert [int(lbl) for _, lbl in batch] == grid.factors_of(split.train.indices[[0, 5, 9]])[:, 0].tolist()


def test_sample_matching_fixes_the_factor_item_by_item(dsprites):
    rng = np.random.default_rng(6)
    values = rng.integers(0, 6, 50)
    f, images = dsprites.sample_matching(values, 1, rng)
    assert np.array_equal(f[:, 1], values) and torch.equal(images, dsprites.images(f))
    with pytest.raises(ValueError, match="'scale' takes values 0..5"):
        dsprites.images(np.array([[0, 6, 0, 0, 0]]))


# ------------------------------------------------------------------ DeepMind's npz, in its layout, tiny
SIZES = (3, 2, 2, 2, 2)


def _write_fake_npz(folder: Path, shuffle: bool = False) -> tuple[Path, np.ndarray]:
    n = int(np.prod(SIZES))
    classes = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(n, 5)
    classes = np.concatenate([np.zeros((n, 1), dtype=np.int64), classes], 1)
    if shuffle:
        classes = classes[::-1].copy()
    imgs = (np.random.default_rng(7).random((n, 64, 64)) < 0.3).astype(np.uint8)
    path = folder / FILE_NAME
    np.savez_compressed(path, imgs=imgs, latents_classes=classes, latents_values=classes.astype(np.float64),
                        metadata=np.array({"pickled": "never loaded"}, dtype=object))
    return path, imgs


def test_the_original_npz_is_used_when_given(tmp_path):
    _, imgs = _write_fake_npz(tmp_path)
    split = load_dataset("dsprites", root=str(tmp_path))
    grid = factors_of(split)
    assert grid.factor_sizes == SIZES and grid.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    everything = grid.images(grid.factors_of(np.arange(len(grid))))
    assert np.array_equal(everything[:, 0].numpy().astype(np.uint8), imgs)
    assert "read from" in split.description
    assert torch.equal(split.train[0][0][0], torch.from_numpy(imgs[split.train.indices[0]]).float())
    # the file itself works as well as its folder
    assert factors_of(load_dataset("dsprites", root=str(tmp_path / FILE_NAME))).factor_sizes == SIZES


def test_a_folder_without_the_npz_is_refused_by_name(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"holds no {FILE_NAME}"):
        load_dataset("dsprites", root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("dsprites", root=str(tmp_path / "nowhere"))


def test_an_npz_out_of_order_is_refused(tmp_path):
    _write_fake_npz(tmp_path, shuffle=True)
    with pytest.raises(ValueError, match="in order"):
        load_dataset("dsprites", root=str(tmp_path))


def _centred(f: np.ndarray) -> torch.Tensor:
    """32x32 crops (n, 1, 32, 32) of the images of factor rows f, centred on each image's centroid: a
    function of the pixels alone, which leaves the CNN the shape (and scale and turn) to read."""
    m = render_masks(f).astype(np.float32)
    g = np.arange(64)
    mass = m.sum((1, 2))
    cy = np.rint((m.sum(2) * g).sum(1) / mass).astype(int)
    cx = np.rint((m.sum(1) * g).sum(1) / mass).astype(int)
    pad = np.pad(m, ((0, 0), (16, 16), (16, 16)))
    rows = (cy[:, None] + np.arange(32))[:, :, None]
    cols = (cx[:, None] + np.arange(32))[:, None, :]
    return torch.from_numpy(pad[np.arange(len(f))[:, None, None], rows, cols]).unsqueeze(1)


@pytest.mark.slow
def test_a_small_cnn_reads_the_shape_in_200_steps(dsprites):
    # the three shapes must be told apart from the pixels, at every scale and turn; 200 steps of 64 took
    # 12.8 s on one thread here (32 s under heavy load), under the 30 s budget
    import time

    from torch import nn

    torch.manual_seed(0)
    rng = np.random.default_rng(8)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                        nn.Linear(32, 3))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    held_out = dsprites.sample_factors(1000, np.random.default_rng(9))
    start = time.perf_counter()
    for _ in range(200):  # a step count, not a clock: the same test on a loaded and an idle machine
        f = dsprites.sample_factors(64, rng)
        loss = nn.functional.cross_entropy(net(_centred(f)), torch.from_numpy(f[:, 0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = net(_centred(held_out)).argmax(1).numpy()
    assert np.mean(predicted == held_out[:, 0]) >= 0.95, f"after {seconds:.0f} s"


def test_options_dsprites_cannot_honour_are_refused():
    with pytest.raises(ValueError, match="image_size .* 32 is not accepted"):
        load_dataset("dsprites", image_size=32)
    with pytest.raises(ValueError, match="dsprites-colour is rendered here only"):
        load_dataset("dsprites-colour", root="/tmp")
