"""The models folder the Compare tests add to pretrained/: the ONNX pair of tests/support/foreign_models.py (1x28x28),
exported once per test process (the export takes seconds) and shared by the AppTest and the browser test."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=1)
def onnx_models_folder() -> Path:
    """A folder holding one model trained elsewhere, `onnx-mnist` (a tiny Bernoulli VAE, 4-D code)."""
    from tests.support import foreign_models

    root = Path(tempfile.mkdtemp(prefix="compare-models-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    foreign_models.make_onnx_pair(root / "onnx-mnist")
    return root
