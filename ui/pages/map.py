"""Latent map page (see ui/mapview.py)."""

from ui.mapview import page

page()
