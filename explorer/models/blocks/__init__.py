"""Building blocks several families share: layer helpers (layers.py) and class conditioning (conditioning.py)."""
