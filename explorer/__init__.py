"""VAE Latent Explorer: models, data, losses, training, checkpoints and analysis for variational autoencoders.

Importing the package has no side effects: no data is loaded and nothing is downloaded.
"""

__version__ = "0.1.0"
