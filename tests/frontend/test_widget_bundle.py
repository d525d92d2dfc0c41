"""One frontend for two hosts: each notebook widget's bundle (<component>_widget.js) and its Streamlit component's
(<component>.js) come from one esbuild call over the same sources; they differ only by the host adapter and the
widget's entry. Read from esbuild's metafile (frontend/assets/metafile.json, written by frontend/build.mjs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "frontend" / "assets"
WIDGETS = ("live_latent", "big_map")  # the components with a notebook widget (explorer.notebook)


def _outputs() -> dict:
    return json.loads((ASSETS / "metafile.json").read_text())["outputs"]


@pytest.mark.parametrize("name", WIDGETS)
def test_widget_and_component_bundle_the_same_modules(name):
    out = _outputs()
    component = set(out[f"assets/{name}.js"]["inputs"])
    widget = set(out[f"assets/{name}_widget.js"]["inputs"])
    assert component <= widget, f"the widget lacks {sorted(component - widget)}"
    assert widget - component == {"src/hosts/anywidget.js", f"src/{name}/widget.js"}
    assert {p for p in component if p.startswith("src/common/")} >= {"src/common/ort.js", "src/common/paint.js"}


@pytest.mark.parametrize("name", WIDGETS)
def test_widget_bundle_is_one_self_contained_module(name):
    # anywidget loads one module from a blob URL: its only import is onnxruntime's, which the host hands over
    widget = _outputs()[f"assets/{name}_widget.js"]
    assert widget["imports"] == ["./ort.wasm.bundle.min.mjs"]
    assert not [p for p in _outputs() if p.endswith(".js") and "chunk" in p]
