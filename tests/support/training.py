"""Training helpers the tests share."""

from __future__ import annotations

from typing import Any


def fit_until(trainer: Any, resume: bool = False, stop_after: int | None = None) -> tuple[Any, Any]:
    """(trainer, history) of `trainer.fit(resume=...)`, interrupted (history None) after epoch `stop_after` as a
    KeyboardInterrupt would stop it."""
    def interrupt(record):
        if stop_after is not None and record.epoch == stop_after:
            raise KeyboardInterrupt

    try:
        return trainer, trainer.fit(resume=resume, on_epoch=interrupt)
    except KeyboardInterrupt:
        return trainer, None
