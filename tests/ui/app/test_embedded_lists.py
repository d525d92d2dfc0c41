"""The app's torch-free list of embedded data sets is the library's list, and each entry's stated shape is real."""

from __future__ import annotations

from explorer.data import EMBEDDED, load_dataset
from ui.app import dataviews


def test_the_app_lists_the_library_s_embedded_sets_with_their_shapes():
    assert tuple(dataviews.EMBEDDED_DATASETS) == tuple(EMBEDDED)
    assert set(dataviews.EMBEDDED_SHAPES) == set(EMBEDDED)
    for name in ("digits", "photos"):  # quick to load
        assert tuple(load_dataset(name).image_shape) == dataviews.EMBEDDED_SHAPES[name]
