"""The ONNX export service for the browser components: a model's decoder or encoder as ONNX, exported on first use
on the inference thread and kept in the model cache (CACHE/models/<digest>[-class<c>]/<part>.onnx). It takes a
model, its weights digest and a cache folder, not a page's context, so any page or component can ask for one."""

from __future__ import annotations

from pathlib import Path

from explorer.cache import model_cache_dir
from explorer.models.base import VAE
from explorer.models.blocks.conditioning import with_default_condition
from explorer.onnx.export import FRAME_BUDGET_S, WASM_SLOWDOWN, CachedExport, frame_seconds
from ui.services import inference
from ui.services.lazy import torch_side

# A decoder goes to the page only when the page can use it: its bytes cross the websocket base64-encoded (4/3 of
# the file) in one message under Streamlit's server.maxMessageSize, and it decodes a frame within FRAME_BUDGET_S
# (explorer.onnx.export's, with its WASM_SLOWDOWN).
_VERDICTS: dict[str, str] = {}  # sha256 of an exported file -> "" (fits the page) or why it does not


_FRAME_S: dict[str, float] = {}  # sha256 of an exported file -> its estimated seconds per frame in the page


def page_frame_seconds(got: CachedExport) -> float:
    """Estimated seconds of one frame of the exported part in the page: native onnxruntime on one thread times
    WASM_SLOWDOWN, measured once per file."""
    if got.info.sha256 not in _FRAME_S:
        _FRAME_S[got.info.sha256] = frame_seconds(got.path, got.info) * WASM_SLOWDOWN
    return _FRAME_S[got.info.sha256]


def page_verdict(got: CachedExport, message_limit_bytes: int) -> str:
    """"" when the exported part fits the page (size and speed), else the reason, naming the figures."""
    if got.info.sha256 in _VERDICTS:
        return _VERDICTS[got.info.sha256]
    size = got.info.size_bytes
    reason = ""
    if size * 4 / 3 > message_limit_bytes:
        reason = (f"its ONNX file is {size / 2**20:.0f} MB ({size * 4 / 3 / 2**20:.0f} MB as sent), over the page's "
                  f"message limit of {message_limit_bytes / 2**20:.0f} MB")
    else:
        seconds = page_frame_seconds(got)
        if seconds > FRAME_BUDGET_S:
            reason = (f"a frame would take about {seconds * 1000:.0f} ms in the page (over {FRAME_BUDGET_S * 1000:.0f} "
                      "ms): the page shows the preview tiers and decodes on the server on release instead")
    _VERDICTS[got.info.sha256] = reason
    return reason


_SIZES: dict[tuple[str, str], int] = {}  # (weights digest, part) -> bytes of the part's weights


def size_verdict(model: VAE, part: str, digest: str, message_limit_bytes: int) -> str:
    """"" when `part`'s weights may fit one page message, else the reason: decided from the weights the part uses
    (explorer.runtime.memory.part_parameter_bytes), before any export, since exporting a decoder of SD's size to
    learn that it is too big takes minutes and about a gigabyte."""
    key = (digest, part)
    if key not in _SIZES:
        measure = torch_side().memory.part_parameter_bytes
        try:
            _SIZES[key] = inference.run(measure, model, "encode" if part == "encoder" else "decode")
        except Exception:  # noqa: BLE001  (a model that cannot run at the small size: the exported file is judged)
            _SIZES[key] = 0
    size = _SIZES[key]
    if size * 4 / 3 <= message_limit_bytes:
        return ""
    instead = ("the server decodes the edited grids instead" if part == "indices" else
               "the page shows the preview tiers and decodes on the server instead")
    return (f"its weights are {size / 2**20:.0f} MB ({size * 4 / 3 / 2**20:.0f} MB as sent), over the page's message "
            f"limit of {message_limit_bytes / 2**20:.0f} MB: {instead}")


def browser_export(model: VAE, part: str, digest: str, cache_dir: str | Path | None,
                   condition: int | None = None, message_limit_bytes: int | None = None) -> tuple[CachedExport | None, str]:
    """(CachedExport or None, message) for `part` ("decoder", "encoder" or "indices": a discrete model's decode from
    code indices, explorer.onnx.discrete.IndexImageGraph) of `model`. A conditional model's part
    is exported under class `condition`, one file per class (the class is baked into the graph). None with the
    exporter's error when it cannot be exported; the message also says when a damaged cached file was just
    exported again. With `message_limit_bytes`, a part too large for one page message or too slow for a frame
    (page_verdict) is not offered: None with the reason."""
    folder = model_cache_dir(digest, cache_dir)
    name = folder.name
    if condition is not None:
        model = with_default_condition(model, int(condition))  # a view: no weights of its own
        name = f"{folder.name}-class{int(condition)}"
    if message_limit_bytes is not None and (why := size_verdict(model, part, digest, message_limit_bytes)):
        return None, f"The in-browser {part} is not used: {why}."
    try:
        got = inference.exported_part(model, part, name, folder.parent)
    except Exception as exc:  # noqa: BLE001  (an exporter crash must not take the page down)
        return None, f"{type(exc).__name__}: {exc}"
    if not isinstance(got, CachedExport):
        return None, got.message
    if message_limit_bytes is not None and (why := page_verdict(got, message_limit_bytes)):
        return None, f"The in-browser {part} is not used: {why}."
    note = ""
    if got.status == "exported" and got.reason.startswith(("corrupt", "stale")):
        note = f"The cached in-browser {part} could not be used ({got.reason}); it was exported again."
    return got, note


__all__ = ["FRAME_BUDGET_S", "WASM_SLOWDOWN", "browser_export", "page_frame_seconds", "page_verdict", "size_verdict"]
