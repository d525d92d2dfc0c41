"""The app's one door to torch: `torch_side()` imports ui.services.torch_side on first use, so that the first page
paints before torch and the model families load (ui.app.warmup loads them in the background right after)."""

from __future__ import annotations

from types import ModuleType


def torch_side() -> ModuleType:
    """ui.services.torch_side, imported on first use (then Python's module cache answers)."""
    import ui.services.torch_side as side  # lazy: loads torch, which the first paint must not wait for

    return side


__all__ = ["torch_side"]
