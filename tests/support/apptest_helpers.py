"""Helpers for the AppTest suite: open the app on a model and page, find images by caption, read media."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

APP = str(Path(__file__).resolve().parents[2] / "app.py")


class Media:
    """Bytes of every file the app registered with st.image / st.download_button during AppTest runs."""

    def __init__(self):
        self.stores = []

    def get(self, url: str) -> bytes:
        name = url.rsplit("/", 1)[-1]
        for store in reversed(self.stores):
            try:
                return store.get_file(name).content
            except Exception:  # noqa: BLE001
                continue
        raise KeyError(url)

    def array(self, url: str) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.get(url))))


def switch_page(at, url_path: str):
    """Open the page registered under `url_path` (e.g. 'walk'); AppTest's own switch_page finds file pages only,
    and ui/main.py registers callables. A page's script hash is Streamlit's hash of its URL path (st.Page)."""
    from streamlit.util import calc_hash

    page_hash = calc_hash(url_path)
    registered = getattr(at, "_registered_pages", {})
    if registered and page_hash not in registered:
        known = sorted(str(info.get("url_pathname")) for info in registered.values())
        raise ValueError(f"no page registered under {url_path!r}; registered: {known}")
    at._page_hash = page_hash
    return at


def open_app(folder: Path | None = None, page: str | None = None):
    """AppTest of app.py with `folder` chosen in the sidebar and `page` (e.g. 'walk') open."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    if folder is not None:
        at.selectbox(key="model_folder").set_value(str(folder))
        at.run()
    if page is not None:
        switch_page(at, page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def image_by_caption(at, caption: str):
    """URL of the first image whose caption starts with `caption`."""
    for el in at.get("image"):
        for url, cap in zip(el.value, el.captions):
            if cap.startswith(caption):
                return url
    seen = [c for e in at.get("image") for c in e.captions]
    raise AssertionError(f"no image captioned {caption!r}; captions: {seen}")


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def data_never_encoded(monkeypatch) -> None:
    """Make Ctx.data() (the data set's encoding) fail for the rest of the test: what a page shows then needed none."""
    from ui.app.context import Ctx

    def no_encoding(self):
        raise RuntimeError("the data set's encoding has not finished")

    monkeypatch.setattr(Ctx, "data", no_encoding)
