"""The walk's state lives in the page URL: a link opened in a fresh session shows the same image; values that
cannot be read or lie outside the sliders' range get a message and the page keeps working."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.apptest_helpers import APP, errors, image_by_caption, open_app, switch_page


def _open_link(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    switch_page(at, "walk")
    for k, v in params.items():  # page switches keep the link's query (as the browser's address does)
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _walk_sliders(at):
    """The walk's sliders in axis order (the panel lays them out in two columns: 0, 2, 4, ... then 1, 3, ...)."""
    found = [s for s in at.slider if s.key and s.key.startswith("walk:")]
    half = (len(found) + 1) // 2
    return [found[i // 2] if i % 2 == 0 else found[half + i // 2] for i in range(len(found))]


def test_the_url_follows_the_walk_and_a_fresh_session_shows_the_same_image(conv_model, media):
    at = open_app(conv_model, "walk")
    at.radio(key="walk_start").set_value("data set example").run()
    at.number_input(key="walk_example").set_value(3).run()
    _walk_sliders(at)[0].set_value(1.5).run()
    _walk_sliders(at)[1].set_value(-2.0).run()
    image = media.get(image_by_caption(at, "decoded mean"))
    link = {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in ("model", "start", "axes", "n", "v")}
    assert link["start"] == "item:3" and link["axes"] == "dims" and link["v"].startswith("1.5,-2,"), link
    fresh = _open_link(link)
    assert not errors(fresh)
    assert [s.value for s in _walk_sliders(fresh)][:2] == [1.5, -2.0]
    assert media.get(image_by_caption(fresh, "decoded mean")) == image  # same state, same bytes


def test_values_outside_the_range_are_clamped_and_bad_ones_ignored(conv_model, media):
    at = _open_link({"model": conv_model.name, "start": "item:99999", "axes": "dims", "n": "3", "v": "9,abc,-0.5"})
    notes = " ".join(w.value for w in at.warning)
    assert "clamped" in notes and "9" in notes, notes
    assert "'abc'" in notes and "not numbers" in notes, notes
    assert "test item 99999" in notes, notes
    assert [s.value for s in _walk_sliders(at)] == [4.0, 0.0, -0.5]
    assert media.get(image_by_caption(at, "decoded mean"))
    _walk_sliders(at)[0].set_value(1.0).run()  # the page keeps working, and the link's notes are said once
    assert not at.exception and not [w for w in at.warning if "clamped" in w.value]
