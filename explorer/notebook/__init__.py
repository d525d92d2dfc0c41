"""Notebook widgets (Jupyter, JupyterLab, VS Code, Colab, marimo): the explorer's browser components as anywidgets.

`LatentWalk(model, start=None, axes=None)`: latent sliders decoded in the page while dragging. Needs the optional
extra: pip install vae-latent-explorer[notebook] (anywidget). See docs/notebooks.md.
"""

from explorer.notebook.walk import LatentWalk

__all__ = ["LatentWalk"]
