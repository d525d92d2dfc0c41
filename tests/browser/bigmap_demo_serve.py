"""bigmap_demo_app.py inside st.App with the item-image route (ui/services/itemserver.py), as `vae-explorer` serves the
dashboard: `streamlit run tests/browser/bigmap_demo_serve.py`. The hovered item's image then comes by one GET."""

import streamlit as st

from ui.services.itemserver import mark_mounted, routes

mark_mounted()
app = st.App("bigmap_demo_app.py", routes=routes())
