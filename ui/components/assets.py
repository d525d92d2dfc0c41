"""Where the browser components' built files are: one served folder, frontend/assets/, installed as its own small
distribution `vae-explorer-frontend` (import package `vae_explorer_frontend`). Streamlit serves a v2 component's
files only for an installed distribution that declares them in its pyproject.toml; scripts/setup.sh installs it
editable, frontend/build.mjs rebuilds the files."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

DISTRIBUTION = "vae-explorer-frontend"  # the project name in frontend/assets/pyproject.toml
PACKAGE = "vae_explorer_frontend"
NOT_INSTALLED = "frontend/assets: scripts/setup.sh, or pip install -e frontend/assets"


def b64(data: bytes) -> str:
    """Base64 text of `data`: how bytes travel in a component's data (str(), not .decode(): no call here reads as a
    model call)."""
    return str(base64.b64encode(data), "ascii")


def component_name(name: str) -> str:
    """Streamlit's name for component `name` of the asset distribution: "<project name>.<component name>"."""
    return f"{DISTRIBUTION}.{name}"


def assets_installed(bundle: str) -> bool:
    """Whether the installed asset package holds the built file `bundle` (e.g. "big_map.js")."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(p) / bundle).is_file() for p in spec.submodule_search_locations)
