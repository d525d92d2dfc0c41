"""Latent walk: the page (page.py) picks a panel by the kind of code the model declares (registry.py); each
panel module registers itself when imported here."""

from ui.pages.walk import vector  # noqa: F401  (registers the "vector" panel)
from ui.pages.walk import spatial  # noqa: F401  (registers the "spatial" panel)
from ui.pages.walk import discrete  # noqa: F401  (registers the "discrete" panel)
