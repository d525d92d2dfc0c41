"""The Streamlit front end of the VAE Latent Explorer: shared state, widgets and one module per page.

`app.py` only builds the sidebar and the navigation; the pages in `ui/pages/` lay out widgets and call
`explorer` functions. Nothing here writes into a model: models are shared between sessions, read-only.
"""
