"""Where the built browser files are (frontend/assets/: the component bundles, the notebook widgets' ESMs,
onnxruntime-web's module and .wasm), for any layer: ui/ serves them to Streamlit, explorer.notebook sends them
through a widget. explorer/ imports nothing from ui/, so the accessor lives here, at the bottom."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "vae_explorer_frontend"  # the installed asset distribution (frontend/assets/pyproject.toml)
STAMP = "build-stamp.json"  # written by every build (frontend/build.mjs)
NOT_FOUND = ("the built browser files were not found: install them (scripts/setup.sh, or "
             "pip install -e frontend/assets), or build them (cd frontend && npm ci && node build.mjs)")


def asset_dir() -> Path:
    """The folder of the built browser files: this checkout's frontend/assets/ when this explorer package sits in a
    source checkout with a build (its files match its code), else the installed `vae_explorer_frontend` package's
    folder. FileNotFoundError, saying how to get them, when neither has a build."""
    own = Path(__file__).resolve().parents[1] / "frontend" / "assets"
    if (own / STAMP).is_file():
        return own
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / STAMP).is_file():
            return Path(folder)
    raise FileNotFoundError(NOT_FOUND)


def asset_bytes(name: str) -> bytes:
    """The bytes of built file `name` (e.g. "live_latent_widget.js"); FileNotFoundError naming it when absent."""
    path = asset_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not among the built browser files in {path.parent}: rebuild them "
                                "(cd frontend && node build.mjs)")
    return path.read_bytes()
