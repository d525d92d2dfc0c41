"""Walk panels by the kind of code a model declares (Capabilities.code_kind: "vector", "spatial", "discrete").

A panel is a function of the session's context that lays out the walk below the page title. It registers itself
with `@register_walk_panel("kind")` in its own module, imported by ui/pages/walk/__init__.py; the walk page never changes
when a panel is added."""

from __future__ import annotations

from collections.abc import Callable

from ui.app.context import Ctx

Panel = Callable[[Ctx], None]
PANELS: dict[str, Panel] = {}
FALLBACK = "vector"  # a kind with no panel of its own walks its flattened code with sliders


def register_walk_panel(kind: str) -> Callable[[Panel], Panel]:
    """Decorator: `fn` lays out the walk for models whose code is of `kind`."""
    def register(fn: Panel) -> Panel:
        PANELS[kind] = fn
        return fn
    return register


def panel_for(kind: str) -> tuple[Panel, bool]:
    """(the panel for `kind`, whether it is that kind's own panel rather than the fallback)."""
    if kind in PANELS:
        return PANELS[kind], True
    return PANELS[FALLBACK], False


__all__ = ["FALLBACK", "PANELS", "Panel", "panel_for", "register_walk_panel"]
