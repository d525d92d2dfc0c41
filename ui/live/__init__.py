"""Latent sliders decoded in the page (onnxruntime-web): the "live latent" Streamlit component."""

from ui.live.component import COMPONENT_NAME, PATHS, LiveDrawResult, LiveLatentResult, live_draw, live_latent

__all__ = ["COMPONENT_NAME", "LiveDrawResult", "LiveLatentResult", "PATHS", "live_draw", "live_latent"]
