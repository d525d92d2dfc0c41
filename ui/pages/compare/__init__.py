"""Compare: two to four models side by side (page.py) and their scored figures (view.py)."""
