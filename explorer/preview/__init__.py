"""Live previews for big decoders: the linear latent -> RGB fit (linear.py), later the distilled student."""
