"""On the shipped teacher, pretrained/kl-f4-photos: a region painted in the page and a
channel-space direction moved inside it change the full decode inside the region: mean |delta| inside the painted
cells' pixels >= 3 x mean |delta| outside the region grown by 8 px. The region arrives as the page sends it (the
element's released state: an H*W uint8 mask, base64) and the code is walked as the page walks it on the server
(explorer.analysis.channels.walk_axes and walked, with their default slider counts, which the page uses)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from explorer.analysis import channels as ch
from explorer.checkpoint import from_pretrained
from explorer.data.photos import load_photo
from ui.components.spatial_live import parse_release

TEACHER = Path(__file__).resolve().parents[4] / "pretrained" / "kl-f4-photos"


def _painted(h: int, w: int) -> np.ndarray:
    """A short stroke in the upper left: two overlapping discs of radius 2 cells, as the page's brush stamps them
    (frontend/src/spatial_live/brush.js). Regions near this teacher's centre leak more (docs/runtime-and-preview.md)."""
    yy, xx = np.mgrid[:h, :w]
    return (((yy - 5) ** 2 + (xx - 5) ** 2 <= 4) | ((yy - 4) ** 2 + (xx - 3) ** 2 <= 4)).astype(np.uint8)


# the first principal direction (98% of the variance) by half its spread, the second by its slider's end (3 spreads).
# A move of 3 spreads along the first one leaks out of the region (inside/outside 0.4-0.8 measured on a central
# disc): the decoder's mid-block attention spreads so large a change over the whole image.
@pytest.mark.parametrize("axis, amount", [(0, 0.5), (1, 3.0)])
def test_a_painted_region_edit_on_the_teacher_stays_in_the_region(axis, amount):
    model = from_pretrained(TEACHER, "cpu")
    photo = load_photo("chelsea")  # a held-out photograph, (3, H, W) in [0, 1]
    top, left = (photo.shape[1] - 64) // 2, (photo.shape[2] - 64) // 2
    image = photo[None, :, top:top + 64, left:left + 64].float()
    with torch.no_grad():
        code = model.encode_code(image)[0].double().numpy()  # (4, 16, 16): f4
    c, h, w = code.shape
    pca = ch.channel_pca(code)
    axes = ch.walk_axes(pca, code[None])  # the page's axes (explorer.analysis.channels' defaults)
    mask = _painted(h, w)
    values = np.zeros(len(axes.labels))
    values[axis] = amount
    state = {"released": {"code_key": "k", "values": values.tolist(), "nonce": 1,
                          "mask_b64": base64.b64encode(mask.tobytes()).decode()}}
    release = parse_release(state, "k", (c, h, w), len(axes.labels))
    assert release is not None and np.array_equal(release.mask, mask)
    moved = ch.walked(code, axes, release.values, release.mask)
    with torch.no_grad():
        before, after = (model.decode_code(torch.from_numpy(z[None]).float())[0].numpy() for z in (code, moved))
    delta = np.abs(after - before).mean(0)  # (64, 64)
    region = np.kron(mask, np.ones((4, 4))).astype(bool)
    grown = binary_dilation(region, structure=np.ones((3, 3)), iterations=8)
    inside, outside = float(delta[region].mean()), float(delta[~grown].mean())
    print(f"{axes.labels[axis]}: mean |delta| inside {inside:.4f}, outside the region grown by 8 px {outside:.4f}, "
          f"ratio {inside / max(outside, 1e-12):.1f}")
    assert inside > 0.01 and inside >= 3 * outside, (inside, outside)
