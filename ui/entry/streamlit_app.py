"""The main script Streamlit runs for the `vae-explorer` console script (ui/app/launch.py); app.py's twin in the package.

It sits alone in its folder because Streamlit puts the main script's folder on sys.path.
"""

from ui.main import main

main()
