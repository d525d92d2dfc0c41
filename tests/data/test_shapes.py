"""The embedded captioned `shapes` data: deterministic, true captions, a grammar that parses them back."""

import time

import numpy as np
import pytest
import torch

from explorer.data import load_dataset
from explorer.data.captions import collate_captioned
from explorer.data.shapes import COLOURS, PLACES, SHAPES, SIZES, captions_for, generate_shapes, load_shapes, parse_caption


@pytest.fixture(scope="module")
def small():
    return load_shapes(n_images=1500, seed=0)


def test_same_seed_same_data_and_other_seed_other_data():
    a, la, oa = generate_shapes(300, seed=1)
    b, lb, ob = generate_shapes(300, seed=1)
    c, _, _ = generate_shapes(300, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and oa == ob
    assert not np.array_equal(a, c)


@pytest.mark.slow
def test_ten_thousand_images_generate_in_a_few_seconds():
    t0 = time.perf_counter()
    data = load_shapes()
    assert time.perf_counter() - t0 < 10.0
    assert (len(data.train), len(data.test)) == (9000, 1000)


def test_images_are_binary_rgb_and_cover_every_attribute(small):
    images = small.train.images
    assert images.shape[1:] == (3, 32, 32) and images.dtype == torch.uint8
    assert set(torch.unique(images).tolist()) == {0, 255}
    objs = [small.train.attributes[i] for i in range(len(small.train))]
    assert {o["colour"] for o in objs} == set(COLOURS) and len(COLOURS) >= 6
    assert {o["shape"] for o in objs} == set(SHAPES) and {o["size"] for o in objs} == set(SIZES)
    assert {o["position"] for o in objs} == set(PLACES)
    assert sum("relation" in o for o in objs) > len(objs) // 3  # about half have two shapes


def test_captions_are_true_of_the_picture(small):
    x = small.train.all_images()
    step = 32 / 3
    for i in range(300):
        truth = small.train.attributes[i]
        cell = PLACES.index(truth["position"])
        cy, cx = int((cell // 3 + 0.5) * step), int((cell % 3 + 0.5) * step)
        colour = tuple(int(v) for v in x[i, :, cy, cx].round())
        assert colour == COLOURS[truth["colour"]], (i, truth)
        assert int(small.train.labels[i]) == SHAPES.index(truth["shape"])  # label: the first-named shape


def test_grammar_parses_back_every_generated_caption():
    _, _, objects = generate_shapes(3000, seed=5)
    for objs in objects:
        for caption in captions_for(objs):
            got = parse_caption(caption)
            assert got["grammatical"], caption
            for key in ("size", "colour", "shape", "position"):
                assert got[key] == objs[0][key], caption
            if len(objs) == 2:
                assert got["second_shape"] == objs[1]["shape"] and got["second_colour"] == objs[1]["colour"]
                if got["relation"] is not None:
                    assert got["relation"] == objs[0]["relation"]


def test_parse_is_lenient_outside_the_grammar():
    got = parse_caption("large large red the circle circle in the top left")
    assert not got["grammatical"]
    assert (got["size"], got["colour"], got["shape"], got["position"]) == ("large", "red", "circle", "top left")


def test_fixed_split_fractions_and_collate():
    a = load_shapes(n_images=400, seed=0, labeled_fraction=0.25, captioned_fraction=0.5)
    b = load_dataset("shapes", n_images=400, seed=0, labeled_fraction=0.25, captioned_fraction=0.5)
    assert torch.equal(a.test.images, b.test.images) and len(a.test) == 40
    assert int((a.train.labels >= 0).sum()) == 90 and int((a.train.counts > 0).sum()) == 180
    assert bool((a.test.labels >= 0).all()) and bool((a.test.counts == 3).all())
    items = [a.train[i] for i in range(16)]
    images, labels, captions, counts = a.collate_fn(items)
    assert images.shape == (16, 3, 32, 32) and labels.shape == (16,) and captions.shape[:2] == (16, 3)
    for i, item in enumerate(items):
        if item[2] is None:
            assert int(counts[i]) == 0 and bool((captions[i] == 0).all())
        else:
            assert a.extras["vocab"].decode(captions[i, 0]) == a.train.references(i)[0]
    assert a.collate_fn is collate_captioned and a.extras["parse_caption"] is parse_caption
