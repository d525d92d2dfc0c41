"""The live component without a browser: the asset distribution's manifest and files, and the API's argument handling."""

from __future__ import annotations

import base64
import tomllib

import numpy as np
import pytest

from ui.components import bigmap
from ui.components import live as component
from ui.components.devserver import ASSETS


@pytest.mark.parametrize(("module", "bundle"), [(component, "live_latent"), (bigmap, "big_map")])
def test_asset_manifest_declares_the_component_and_its_files_are_built(module, bundle):
    meta = tomllib.loads((ASSETS / "pyproject.toml").read_text())
    entries = {f'{meta["project"]["name"]}.{e["name"]}': e for e in meta["tool"]["streamlit"]["component"]["components"]}
    entry = entries[module.COMPONENT_NAME]
    root = ASSETS / entry["asset_dir"]
    assert root.resolve() == ASSETS.resolve()  # one served folder for every component
    for name in (f"{bundle}.js", f"{bundle}.css", "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"):
        assert (root / name).is_file(), f"{name} missing: run node frontend/build.mjs"
    assert (root / "ort-wasm-simd-threaded.wasm").read_bytes()[:4] == b"\0asm"
    page = (root / f"{bundle}.js").read_text()
    assert 'import("./ort.wasm.bundle.min.mjs")' in page  # onnxruntime from beside the bundle
    assert "bidi-components" not in page and "../" not in page  # no other component's URL


def test_decoder_payload_bytes_path_or_url(tmp_path):
    f = tmp_path / "decoder.onnx"
    f.write_bytes(b"\x08\x01onnx")
    want = {"decoder_b64": base64.b64encode(b"\x08\x01onnx").decode()}
    assert component._decoder_payload(b"\x08\x01onnx") == want
    assert component._decoder_payload(f) == want
    assert component._decoder_payload(str(f)) == want
    assert component._decoder_payload("/app/static/decoder.onnx") == {"decoder_url": "/app/static/decoder.onnx"}


def test_ranges_broadcast_and_checked():
    assert component._ranges((-3, 3), 2) == [[-3.0, 3.0], [-3.0, 3.0]]
    assert component._ranges(np.array([[-1, 1], [0, 2]]), 2) == [[-1.0, 1.0], [0.0, 2.0]]
    with pytest.raises(ValueError):
        component._ranges((3, -3), 2)
    with pytest.raises(ValueError):
        component._ranges([[0, 1]], 2)


def test_live_draw_takes_grey_models_and_a_matching_projection():
    with pytest.raises(ValueError, match="grey-scale"):
        component.live_draw("d", b"", b"", "m", (3, 32, 32), np.zeros(4), np.zeros((2, 4)), np.zeros((0, 2)),
                            [[-1, 1], [-1, 1]])
    with pytest.raises(ValueError, match="pca_components"):
        component.live_draw("d", b"", b"", "m", (1, 28, 28), np.zeros(4), np.zeros((2, 5)), np.zeros((0, 2)),
                            [[-1, 1], [-1, 1]])
    key, raw = component._dots_bytes(np.array([[1.0, 2.0], [3.0, 4.0]]), None)
    assert np.array_equal(np.frombuffer(raw, "<f4"), [1, 2, 3, 4]) and len(key) == 16
    assert component._dots_bytes(np.zeros((1, 2)), "k")[0] == "k"
