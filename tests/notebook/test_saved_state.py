"""A notebook saved with its widgets' state (JupyterLab's "Save Widget State Automatically", nbconvert's
--store-widget-state) keeps every synced trait of every widget, the page module (`_esm`) included, and never the
parts. With a LatentWalk, a LatentMap of 1,000,000 points (a third of them selected from Python) and a DrawPad on
the shipped conv-mnist5k, that state stays under 1 MB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from explorer.notebook import DrawPad, LatentMap, LatentWalk

MODEL = Path(__file__).resolve().parents[2] / "pretrained" / "conv-mnist5k"


def test_three_widgets_save_under_one_megabyte(tmp_path):
    rng = np.random.default_rng(0)
    walk = LatentWalk(MODEL, cache_dir=tmp_path)
    big = LatentMap(rng.standard_normal((1_000_000, 2)), labels=rng.integers(0, 10, 1_000_000))
    big.selection = np.arange(0, 1_000_000, 3)
    pad = DrawPad(walk.model, cache_dir=tmp_path)
    states = {w.model_id: w.get_state() for w in (walk, big, pad)}
    assert not [k for s in states.values() for k, v in s.items() if isinstance(v, (bytes, memoryview))]
    size = len(json.dumps(states))
    print(f"saved state of the three widgets: {size:,} bytes")
    assert size < 1_000_000, f"the saved widget state is {size:,} bytes"
    assert max(len(json.dumps(s["data"])) for s in states.values()) < 10_000  # no points in the synced data
