"""The browser components' served folder (this folder): the bundles `live_latent.js`, `big_map.js` and
`spatial_live.js` and the notebook widgets' `live_latent_widget.js` and `big_map_widget.js` (built by
frontend/build.mjs from frontend/src/), their styles, onnxruntime-web's wasm-only ES module and its .wasm, and
build-stamp.json (the hashes of the sources they were built from). Nothing to import here; the Python APIs are
`ui.components` (Streamlit) and `explorer.notebook` (notebook widgets)."""

from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent
DISTRIBUTION = "vae-explorer-frontend"  # the project name of pyproject.toml: components are "<this>.<name>"
