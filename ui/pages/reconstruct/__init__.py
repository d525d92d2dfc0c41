"""Reconstruct: upload, pick or draw an image; its reconstruction and scores (page.py, draw.py)."""
