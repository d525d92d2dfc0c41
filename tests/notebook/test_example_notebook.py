"""The guide's example notebook (docs/examples/latent_walk.ipynb) runs top to bottom in a real kernel (nbclient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "latent_walk.ipynb"


@pytest.mark.slow
def test_example_notebook_runs(tmp_path, monkeypatch):
    import nbformat  # 0.9 s to import (jsonschema's URI grammar): not at collection
    from nbclient import NotebookClient

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(EXAMPLE, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLE.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "(28, 28) uint8 1" in text  # .image and one on_change call after setting .code
    widget = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widget) == 1
    assert not (EXAMPLE.parent / "found.safetensors").exists()
    assert os.path.getsize(EXAMPLE) < 20_000  # the committed example holds no outputs
