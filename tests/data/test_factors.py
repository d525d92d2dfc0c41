"""Known factors beyond dSprites: tables (sample_matching), a folder's factors.csv, CelebA's 40 attributes, the
single-object `shapes`, and the message a data set without factors gets."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.analysis.disentanglement import mig
from explorer.data import DataSplit, load_dataset
from explorer.data.factors import FactorTable, factors_of, read_factors_csv
from explorer.data.shapes import COLOURS, PLACES, SHAPES, SIZES, generate_shapes, load_shapes
from tests.data.test_celeba import write_celeba


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, 3, n), rng.integers(0, 5, n)], 1)
    images = torch.arange(n, dtype=torch.float32)[:, None]  # an item's "image" is its index
    return FactorTable("toy", ("a", "b"), factors, lambda idx: images[torch.as_tensor(idx)], (1,)), factors


def test_table_draws_items_that_match_the_factor_item_by_item():
    table, factors = _table()
    rng = np.random.default_rng(1)
    values = rng.integers(0, 5, 100)
    f, images = table.sample_matching(values, 1, rng)
    assert np.array_equal(f[:, 1], values)
    assert np.array_equal(factors[images[:, 0].long().numpy()], f)  # the rows are the drawn items' own
    ks = rng.integers(0, 2, 100)
    wanted = np.where(ks == 0, rng.integers(0, 3, 100), values)
    f2, _ = table.sample_matching(wanted, ks, rng)
    assert np.array_equal(f2[np.arange(100), ks], wanted)
    assert table.factor_sizes == (3, 5)
    with pytest.raises(ValueError, match="no item has factor 'b' = 7"):
        table.sample_matching(np.array([7]), 1, rng)
    with pytest.raises(ValueError, match=r"do not cover the values in the table \(up to \(3, 5\)\)"):
        FactorTable("toy", ("a", "b"), factors, lambda idx: None, (1,), factor_sizes=(3, 4))


def test_a_data_set_without_factors_gets_a_message_naming_those_with_them():
    with pytest.raises(ValueError, match=r"'digits' has no known factors; data sets with factors: dsprites"):
        factors_of(DataSplit("digits", [], [], (1, 8, 8), "bernoulli"))


def test_default_shapes_are_unchanged_and_single_shapes_expose_four_factors():
    images, _, objects = generate_shapes(50, seed=0)
    split = load_shapes(n_images=400, seed=0)  # the captioned default still has one or two objects
    assert any(len(o) == 2 for o in objects) and "factors" not in split.extras
    single = load_dataset("shapes", n_images=400, seed=0, single=True)
    table = factors_of(single)
    assert table.factor_names == ("colour", "shape", "size", "position")
    assert table.factor_sizes == (len(COLOURS), len(SHAPES), len(SIZES), len(PLACES)) and len(table) == 400
    f, imgs = table.sample(64, np.random.default_rng(0))
    # each image holds exactly one object, of the colour its factor names, in its cell
    palette = np.array(list(COLOURS.values()))
    for img, row in zip(imgs.numpy(), f):
        lit = img.sum(0) > 0
        ys, xs = np.nonzero(lit)
        colours = {tuple(c) for c in img[:, lit].T.astype(int)}
        assert colours == {tuple(palette[row[0]])}
        assert (ys.mean() // (32 / 3)) * 3 + (xs.mean() // (32 / 3)) == row[3]


def test_folder_factors_csv_gives_factors(tmp_path: Path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        name = f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / name)
        if i < 10:  # two images are not listed: they stay in the data set, out of the factor table
            rows.append(f"{name},{i % 2},{i % 5}")
    (tmp_path / "factors.csv").write_text("file,lit,pose\n" + "\n".join(rows) + "\n")
    split = load_dataset("folder", root=str(tmp_path), image_size=8)
    table = factors_of(split)
    assert table.factor_names == ("lit", "pose") and len(table) == 10 and table.factor_sizes == (2, 5)
    f, images = table.sample(6, np.random.default_rng(2))
    dataset = split.extras["dataset"]
    for row, img in zip(f, images):  # each image is the file its factors belong to
        match = [i for i in range(10) if torch.equal(dataset[i][0], img)]
        assert match and (match[0] % 2, match[0] % 5) == tuple(row)
    assert len(split.train) + len(split.test) == 12


def test_factors_csv_errors_name_the_line(tmp_path: Path):
    path = tmp_path / "factors.csv"
    path.write_text("file,a\nx.png,1\ny.png,two\n")
    with pytest.raises(ValueError, match=r"line 3: factor 'a' must be an integer >= 0, got 'two'"):
        read_factors_csv(path)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "z.png")
    path.write_text("file,a\nx.png,1\ny.png,0\n")
    with pytest.raises(ValueError, match=r"no readable image of the folder, e.g. \['y.png'\]"):
        load_dataset("folder", root=str(tmp_path), image_size=8)


def test_celeba_attributes_are_binary_factors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.celeba, "check_integrity", lambda *args, **kwargs: True)
    attrs = write_celeba(tmp_path)
    table = factors_of(load_dataset("celeba", root=str(tmp_path)))
    assert len(table.factor_names) == 40 and table.factor_sizes == (2,) * 40 and table.factor_names[0] == "5_o_Clock_Shadow"
    assert np.array_equal(table.table, (attrs[[5, 6]] > 0).astype(np.int64))  # the two test-partition faces
    f, images = table.sample(4, np.random.default_rng(0))
    assert images.shape == (4, 3, 64, 64)
    result = mig(lambda x: x.flatten(1)[:, :3].numpy(), table, seed=0, num_train=8)
    assert np.array(result.details["mutual_information"]).shape == (3, 40)
