"""The live-latent component's asset folder (this folder): the bundled page code `live_latent.js`, onnxruntime-web's
wasm-only ES module and its .wasm. Nothing to import here; the Python API is `ui.components.live`."""

from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent
COMPONENT_NAME = "vae-live-latent.live_latent"  # "<project name>.<component name>" of pyproject.toml
