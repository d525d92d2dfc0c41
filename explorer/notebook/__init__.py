"""Notebook widgets (Jupyter, JupyterLab, VS Code, Colab, marimo): the explorer's browser components as anywidgets.

`LatentWalk(model, start=None, axes=None)`: latent sliders decoded in the page while dragging.
`LatentMap(encoding_or_codes, images=None, labels=None, model=None)`: the million-point map, with hover decode, box
and lasso selection (`.selection`) and search.
`DrawPad(model)`: draw to encode (`.code`).
Needs the optional extra: pip install vae-latent-explorer[notebook] (anywidget). See docs/notebooks.md.
"""

from explorer.notebook.draw import DrawPad
from explorer.notebook.map import LatentMap
from explorer.notebook.walk import LatentWalk

__all__ = ["DrawPad", "LatentMap", "LatentWalk"]
