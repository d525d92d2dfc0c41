"""What every notebook widget of the explorer shares: its page module from the built assets, and the bytes the page
asks for (onnxruntime-web, the model's ONNX files, a map's points) sent as custom-message buffers, never as synced
traits, so a saved notebook keeps none of them.

The page side is frontend/src/hosts/anywidget.js: it asks {type: "need", keys} for the parts it lacks and gets
{type: "parts", keys} with one buffer per key; it asks {type: "request", id, url} where the Streamlit host would
GET one of the server's routes, and gets {type: "response", id, ok, mime, error} with the body as its buffer; and
the component's host.set / host.send arrive as {type: "set" | "send", name, value} (`_on_set`). After each
host.set the page also sets the small synced trait `reported`, so that marimo reruns the cells reading the widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from explorer.frontend_assets import asset_bytes

ORT_PARTS = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")  # the host's part keys (hosts/anywidget.js)


class PartsWidget(anywidget.AnyWidget):
    """An anywidget whose page module is built asset `esm` (styled by `css`) and whose bytes travel as parts.

    Subclasses register their parts in `self.parts` (key -> a function giving the bytes, called when the page
    first asks), name the ones the page needs in data["parts"] ({field: key}), answer requests by overriding
    `_answer(url)` and the component's reports by overriding `_on_set(name, value)`."""

    data = traitlets.Dict().tag(sync=True)  # what the component draws: small, no bytes (hosts/anywidget.js)
    # the page's last host.set ({name, n, t}), set from the page after its custom message: nothing here reads it;
    # it is the change a reactive notebook reruns on (marimo: the cells that read mo.ui.anywidget(widget).value)
    reported = traitlets.Dict().tag(sync=True)

    def __init__(self, esm: str, css: str, **kwargs: Any) -> None:
        # the ESM as instance attributes before anywidget's __init__ makes them traits: a class attribute would
        # read the file when this module is imported
        self._esm = asset_bytes(esm).decode("utf-8")
        self._css = asset_bytes(css).decode("utf-8")
        self.parts: dict[str, Callable[[], bytes]] = {}
        self.sent_parts: list[str] = []  # the part keys this widget sent to its page (a second widget sends none)
        super().__init__(**kwargs)
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: dict, _buffers: list) -> None:
        kind = content.get("type")
        if kind == "need":
            self._send_parts([str(k) for k in content.get("keys", [])])
        elif kind == "request":
            self._respond(content.get("id"), str(content.get("url", "")))
        elif kind in ("set", "send"):
            name, value = str(content.get("name")), content.get("value")
            if name == "need":  # the page lost what it had (a reload): everything data names, once more
                self._send_parts(list(self.data.get("parts", {}).values()))
            else:
                self._on_set(name, value)

    def _send_parts(self, keys: list[str]) -> None:
        self.sent_parts += keys
        self.send({"type": "parts", "keys": keys}, buffers=[self._part(k) for k in keys])

    def _part(self, key: str) -> bytes:
        if key in ORT_PARTS:
            return asset_bytes(key)
        if key in self.parts:
            return self.parts[key]()
        raise ValueError(f"the page asked for an unknown part {key!r}")

    def _respond(self, request_id: Any, url: str) -> None:
        try:
            body, mime = self._answer(url)
        except Exception as exc:  # noqa: BLE001 - the page shows the message; the kernel goes on
            self.send({"type": "response", "id": request_id, "ok": False, "error": str(exc)[:300]}, buffers=[b""])
            return
        self.send({"type": "response", "id": request_id, "ok": True, "mime": mime}, buffers=[body])

    def _answer(self, url: str) -> tuple[bytes, str]:
        """(body, MIME type) for a page's request of `url`; ValueError for a route this widget does not serve."""
        raise ValueError(f"no route {url!r} in this widget")

    def _on_set(self, name: str, value: Any) -> None:
        """A report of the component (host.set / host.send): its name and value."""
