"""Panels that several pages use: upload and encode widgets, class conditioning, caption panels."""
