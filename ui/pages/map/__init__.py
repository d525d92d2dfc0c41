"""Latent map: the Plotly map (page.py), the big stored-encoding map (big.py), the 2-D pad (pad.py)."""
