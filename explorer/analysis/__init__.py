"""Evaluation (ELBO, IWAE, active units), 2-D maps of the encoded means, and their storage."""
