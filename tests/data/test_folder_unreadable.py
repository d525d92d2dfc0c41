"""A folder of images of any sizes: resized to one size; files that cannot be read are skipped and counted,
and the run goes on."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data import load_dataset


def _png(size: tuple[int, int], seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("classes", [False, True])
def test_unreadable_images_are_skipped_and_counted(tmp_path: Path, classes: bool) -> None:
    sizes = [(10, 12), (40, 20), (7, 7), (64, 64), (33, 50), (20, 9), (15, 30), (12, 12), (9, 21), (30, 30)]
    for i, size in enumerate(sizes):
        folder = tmp_path / (f"c{i % 2}" if classes else "")
        folder.mkdir(exist_ok=True)
        (folder / f"img{i}.png").write_bytes(_png(size, i))
    where = tmp_path / ("c0" if classes else "")
    (where / "garbage.jpg").write_bytes(b"not an image at all")
    truncated = where / "truncated.png"
    truncated.write_bytes(_png((50, 50), 99)[:200])  # a valid header, then the data stops
    data = load_dataset("folder", root=str(tmp_path), image_size=16)
    assert "1 unreadable file(s) skipped" in data.description
    assert [Path(p).name for p in data.extras["unreadable"]] == ["garbage.jpg"]
    items = [data.train[i] for i in range(len(data.train))] + [data.test[i] for i in range(len(data.test))]
    assert len(items) == 11  # ten good images and the truncated one (whose place a readable image takes)
    assert all(x.shape == (3, 16, 16) and torch.isfinite(x).all() for x, _ in items)
    assert [Path(p).name for p in data.extras["dataset"].skipped] == ["truncated.png"]
