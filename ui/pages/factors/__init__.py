"""Factors: which latent dimension carries which generative factor (page.py) and what it draws (view.py)."""
