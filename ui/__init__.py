"""The Streamlit front end of the VAE Latent Explorer, in wings with one direction of import:
main (navigation) -> pages -> shared -> app -> services / components -> explorer (docs/architecture.md).
Nothing here writes into a model: models are shared between sessions, read-only.
"""
