"""Python wrappers of the browser components (the live latent walk and draw pad, the big map)."""
