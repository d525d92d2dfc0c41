"""Captions: sampled, greedy and beam-search captions from the current code (page.py)."""
