"""The ONNX export service for the browser components: a model's decoder or encoder as ONNX, exported on first use
on the inference thread and kept in the model cache (CACHE/models/<digest>[-class<c>]/<part>.onnx). It takes a
model, its weights digest and a cache folder, not a page's context, so any page or component can ask for one."""

from __future__ import annotations

from pathlib import Path

from explorer.cache import model_cache_dir
from explorer.models.base import VAE
from explorer.models.blocks.conditioning import with_default_condition
from explorer.onnx.export import CachedExport
from ui.services import inference


def browser_export(model: VAE, part: str, digest: str, cache_dir: str | Path | None,
                   condition: int | None = None) -> tuple[CachedExport | None, str]:
    """(CachedExport or None, message) for `part` ("decoder" or "encoder") of `model`. A conditional model's part
    is exported under class `condition`, one file per class (the class is baked into the graph). None with the
    exporter's error when it cannot be exported; the message also says when a damaged cached file was just
    exported again."""
    folder = model_cache_dir(digest, cache_dir)
    name = folder.name
    if condition is not None:
        model = with_default_condition(model, int(condition))  # a view: no weights of its own
        name = f"{folder.name}-class{int(condition)}"
    try:
        got = inference.exported_part(model, part, name, folder.parent)
    except Exception as exc:  # noqa: BLE001  (an exporter crash must not take the page down)
        return None, f"{type(exc).__name__}: {exc}"
    if not isinstance(got, CachedExport):
        return None, got.message
    note = ""
    if got.status == "exported" and got.reason.startswith(("corrupt", "stale")):
        note = f"The cached in-browser {part} could not be used ({got.reason}); it was exported again."
    return got, note


__all__ = ["browser_export"]
