"""The checks every diffusers adapter shares: image sizes, image channels, a folder's weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.models.foreign.diffusers_loading import MAX_IMAGE_SIDE, image_channels, image_hw, load_diffusers_module
from explorer.models.foreign.errors import ForeignModelError

WHERE = Path("some/config.json")


def test_image_hw_takes_an_int_or_a_pair_that_the_factor_divides():
    assert image_hw(64, 8, WHERE) == (64, 64) and image_hw((32, 48), 8, WHERE) == (32, 48)
    assert image_hw([16, 8], 8, WHERE) == (16, 8)
    with pytest.raises(ForeignModelError, match=r"some/config.json: image size 36x36 is not a multiple of .* factor 8"):
        image_hw(36, 8, WHERE)
    for size in (0, (8, MAX_IMAGE_SIDE * 2), -8):
        with pytest.raises(ForeignModelError, match=f"outside 1 to {MAX_IMAGE_SIDE} pixels a side"):
            image_hw(size, 8, WHERE)


def test_image_channels_must_be_the_same_in_and_out():
    assert image_channels({}, WHERE) == 3 and image_channels({"in_channels": 1, "out_channels": 1}, WHERE) == 1
    with pytest.raises(ForeignModelError, match="in_channels 3 and out_channels 4 differ"):
        image_channels({"in_channels": 3, "out_channels": 4}, WHERE)


def test_a_folder_without_diffusers_weights_is_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text('{"_class_name": "VQModel"}')
    with pytest.raises(ForeignModelError, match=str(tmp_path)):
        load_diffusers_module(tmp_path, "VQModel")
