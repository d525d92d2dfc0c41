"""One frontend for two hosts: the notebook widget's bundle (live_latent_widget.js) and the Streamlit component's
(live_latent.js) come from one esbuild call over the same sources; they differ only by the host adapter and the
widget's entry. Read from esbuild's metafile (frontend/assets/metafile.json, written by frontend/build.mjs)."""

from __future__ import annotations

import json
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "frontend" / "assets"


def _outputs() -> dict:
    return json.loads((ASSETS / "metafile.json").read_text())["outputs"]


def test_widget_and_component_bundle_the_same_modules():
    out = _outputs()
    component = set(out["assets/live_latent.js"]["inputs"])
    widget = set(out["assets/live_latent_widget.js"]["inputs"])
    assert component <= widget, f"the widget lacks {sorted(component - widget)}"
    assert widget - component == {"src/hosts/anywidget.js", "src/live_latent/widget.js"}
    assert {p for p in component if p.startswith("src/common/")} >= {"src/common/ort.js", "src/common/paint.js"}


def test_widget_bundle_is_one_self_contained_module():
    # anywidget loads one module from a blob URL: its only import is onnxruntime's, which the host hands over
    widget = _outputs()["assets/live_latent_widget.js"]
    assert widget["imports"] == ["./ort.wasm.bundle.min.mjs"]
    assert not [p for p in _outputs() if p.endswith(".js") and "chunk" in p]
