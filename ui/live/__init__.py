"""Latent sliders decoded in the page (onnxruntime-web): the "live latent" Streamlit component."""

from ui.live.component import COMPONENT_NAME, PATHS, LiveLatentResult, live_latent

__all__ = ["COMPONENT_NAME", "LiveLatentResult", "PATHS", "live_latent"]
