"""Every page keeps the URL it had when pages were scripts (ui/pages/<name>.py served at /<name>), so a link
recorded before pages became functions (a walk link, say) opens the same page and image after it."""

from __future__ import annotations

from tests.support.apptest_helpers import errors, image_by_caption, open_app, switch_page
from ui import main

OLD_SCRIPT_NAMES = ["reconstruct", "walk", "map", "losslab", "compare"]  # + captions for captioning models


def test_the_url_paths_are_the_old_script_names():
    assert [url for *_, url in main.PAGES][: len(OLD_SCRIPT_NAMES)] == OLD_SCRIPT_NAMES
    assert [url for *_, url in main.PAGES][len(OLD_SCRIPT_NAMES):] == ["factors"]  # a new page, never a script
    assert main.CAPTIONS[-1] == "captions"


def test_a_walk_link_from_before_opens_the_same_image(conv_model, media):
    at = open_app(conv_model)
    at.query_params.update({"model": conv_model.name, "start": "item:3", "axes": "dims", "n": "2", "v": "0.5,-1"})
    switch_page(at, "walk").run()
    assert not at.exception and not errors(at)
    first = media.array(image_by_caption(at, "decoded mean"))
    assert at.query_params["v"] == "0.5,-1"  # the link's values are the walk's
    moved = open_app(conv_model)
    moved.query_params.update({"model": conv_model.name, "start": "item:3", "axes": "dims", "n": "2", "v": "1.5,-1"})
    switch_page(moved, "walk").run()
    assert (media.array(image_by_caption(moved, "decoded mean")) != first).any()  # another link, another image
