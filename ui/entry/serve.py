"""The ASGI entry `vae-explorer` runs (`streamlit run ui/entry/serve.py`): the dashboard (streamlit_app.py beside
this file) on Streamlit's own server, plus the item-image route of ui/services/itemserver.py, so a map's hovered item shows
its original by HTTP rather than through a script rerun. `streamlit run app.py` serves the same dashboard without it.
"""

import streamlit as st

from ui.services.itemserver import mark_mounted, routes

mark_mounted()
app = st.App("streamlit_app.py", routes=routes())
