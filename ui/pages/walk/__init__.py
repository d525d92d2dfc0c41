"""Latent walk: sliders and axes (panel.py), the walk's state in the URL (url.py), the page (page.py)."""
