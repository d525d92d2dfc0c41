"""What crosses between the page and Python for the code-grid element (ui/components/code_grid.py): an edited grid is
read back only for its own start grid, with every level's shape and only codes inside the codebook; the item goes
out as uint8 RGB planes; the element refuses grids of the wrong shape."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from explorer.models.base import CodeLevel
from ui.components.code_grid import code_grid, image_planes, parse_edited

BOTTOM = CodeLevel("bottom", (2, 3), 4, 6, 1, 8, 16)
TOP = CodeLevel("top", (1, 2), 8, 12, 2, 8, 16)


def _state(grids, key="g1", cell=(1, 2)) -> dict:
    return {"edited": {"grid_key": key, "grids": grids, "level": 0, "cell": list(cell), "code": 5, "nonce": 1}}


def test_an_edited_two_level_grid_round_trips():
    grids, cell = parse_edited(_state([[0, 1, 2, 3, 4, 15], [7, 9]]), "g1", [BOTTOM, TOP])
    assert cell == (1, 2)
    assert grids[0].tolist() == [[0, 1, 2], [3, 4, 15]] and grids[1].tolist() == [[7, 9]]
    assert all(g.dtype == np.int64 for g in grids)


@pytest.mark.parametrize("state, why", [
    (None, "no edit yet"),
    ({"edited": None}, "no edit yet"),
    (_state([[0] * 6, [0, 0]], key="other"), "an edit of another start grid"),
    (_state([[0] * 6]), "one level of two"),
    (_state([[0] * 5, [0, 0]]), "a grid of the wrong size"),
    (_state([[0] * 5 + [16], [0, 0]]), "a code outside the codebook (0..15)"),
    (_state([[0] * 5 + [-1], [0, 0]]), "a negative code"),
    ({"edited": "nonsense"}, "not a mapping"),
    (_state([["a"] * 6, [0, 0]]), "not whole numbers"),
])
def test_reports_that_do_not_fit_are_ignored(state, why):
    assert parse_edited(state, "g1", [BOTTOM, TOP]) == (None, None), why


def test_the_item_goes_out_as_rgb_planes():
    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4)
    b64, shape = image_planes(grey)
    planes = np.frombuffer(base64.b64decode(b64), dtype=np.uint8).reshape(shape)
    assert shape == [3, 3, 4] and (planes == planes[0]).all()  # grey repeated into R, G and B
    assert planes[0].tolist() == np.round(grey[0] * 255).astype(np.uint8).tolist()


def test_a_grid_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"level 'bottom' has a 2 x 3 grid, got \(3, 2\)"):
        code_grid("k", b"", "m", [BOTTOM], [np.zeros((3, 2), np.int64)], 0, 0, np.zeros((1, 8, 12)), "g")
