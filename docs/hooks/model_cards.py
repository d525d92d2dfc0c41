"""mkdocs hook: the model cards of pretrained/*/README.md become pages of the site, cards/<name>/, with their images.

The cards are written by train.py next to the weights; the site shows them from there, never from copies in docs/.
A shipped folder without a README.md has no page; a card the nav does not list fails `mkdocs build --strict`
(validation.omitted_files), so a new shipped model must be added to mkdocs.yml's nav.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CARD_ASSETS = (".png", ".jpg", ".jpeg", ".gif", ".svg")  # what a card may show beside its text


def pretrained_root(config: MkDocsConfig) -> Path:
    """The repository's pretrained/ folder (mkdocs.yml sits at the repository root)."""
    return Path(config.config_file_path).resolve().parent / "pretrained"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add cards/<name>/index.md for every pretrained/<name>/README.md, and the images beside it."""
    for card in sorted(pretrained_root(config).glob("*/README.md")):
        name = card.parent.name
        files.append(File.generated(config, f"cards/{name}/index.md", abs_src_path=str(card)))
        for asset in sorted(card.parent.iterdir()):
            if asset.suffix.lower() in CARD_ASSETS:
                files.append(File.generated(config, f"cards/{name}/{asset.name}", abs_src_path=str(asset)))
    return files
