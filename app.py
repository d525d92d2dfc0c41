"""VAE Latent Explorer: the Streamlit dashboard of a checkout (the code is in ui/main.py).

    streamlit run app.py
    streamlit run app.py -- --models runs/ --cache-dir /tmp/vae-cache

Streamlit reads .streamlit/config.toml next to this file. Installed, the same app is the `vae-explorer` command.
"""

from ui.main import main

main()
