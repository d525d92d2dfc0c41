"""The big-map component (a million-point latent map with a hand-written density raster): see component.py."""

from ui.bigmap.component import BigMapEvent, Selection, big_map, quantize, select_box, select_lasso

__all__ = ["BigMapEvent", "Selection", "big_map", "quantize", "select_box", "select_lasso"]
