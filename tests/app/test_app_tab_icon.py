"""The tab icon is a file the app ships, so a page load fetches nothing from another host for it."""

from __future__ import annotations

from PIL import Image

from ui import main


def test_the_tab_icon_is_a_shipped_file():
    assert main.TAB_ICON.is_file()
    with Image.open(main.TAB_ICON) as icon:
        assert icon.size == (64, 64) and icon.mode == "RGBA"
