"""What crosses between the page and Python for the spatial-live element (ui/components/spatial_live.py): a release
is read back only for its own code and direction count, its region mask round-trips, and the full decode goes out as
uint8 planes with the release's nonce."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ui.components.spatial_live import image_payload, parse_release, spatial_live


def _state(mask: np.ndarray | None, values=(0.5, -1.0), key="abc", nonce=3) -> dict:
    b64 = None if mask is None else base64.b64encode(mask.astype(np.uint8).tobytes()).decode()
    return {"released": {"code_key": key, "values": list(values), "nonce": nonce, "mask_b64": b64}}


def test_a_release_round_trips_its_values_mask_and_nonce():
    mask = (np.random.default_rng(0).random((4, 6)) > 0.5).astype(np.uint8)
    got = parse_release(_state(mask), "abc", (3, 4, 6), 2)
    assert got is not None and got.nonce == 3 and got.values.tolist() == [0.5, -1.0]
    assert got.mask.shape == (4, 6) and np.array_equal(got.mask, mask)


@pytest.mark.parametrize("state, why", [
    (None, "no release yet"),
    ({"released": None}, "no release yet"),
    (_state(None, key="other"), "a release made on another code"),
    (_state(None, values=(1.0,)), "another number of directions"),
    (_state(np.ones((3, 3))), "a mask of another size"),
])
def test_releases_that_do_not_fit_are_ignored(state, why):
    assert parse_release(state, "abc", (3, 4, 6), 2) is None, why


def test_an_empty_region_means_every_cell():
    got = parse_release(_state(np.zeros((4, 6))), "abc", (3, 4, 6), 2)
    assert got is not None and got.mask is None


def test_the_full_decode_goes_out_as_uint8_planes():
    image = np.linspace(-0.5, 1.5, 3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    out = image_payload(image, 7)
    planes = np.frombuffer(base64.b64decode(out["b64"]), dtype=np.uint8).reshape(out["shape"])
    assert out["nonce"] == 7 and out["shape"] == [3, 4, 5]
    assert np.array_equal(planes, np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    grey = image_payload(image[:1], 1)
    assert grey["shape"] == [3, 4, 5]  # a grey image is sent as three equal planes


def test_directions_and_preview_must_fit_the_code():
    code = np.zeros((4, 2, 2), dtype=np.float32)
    weights, bias = np.zeros((4, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"directions must be \(K, 4\)"):
        spatial_live("k", code, "c", weights, bias, np.zeros((1, 3)), [1.0], ["d"], [(-1, 1)], [0.0])
    with pytest.raises(ValueError, match=r"weights \(4, 3\)"):
        spatial_live("k", code, "c", np.zeros((3, 3)), bias, np.zeros((1, 4)), [1.0], ["d"], [(-1, 1)], [0.0])
