"""Captions page: shown only for captioning models; captions use vocabulary words and follow the sliders."""

from __future__ import annotations

import re

import pytest

from tests.support.apptest_helpers import errors, open_app, switch_page


def _captions(at) -> tuple[str, str, list[str]]:
    texts = [m.value for m in at.markdown]
    greedy = next(t for t in texts if t.startswith("**Greedy:**")).removeprefix("**Greedy:**").strip()
    beam = next(t for t in texts if t.startswith("**Beam search")).split(":**", 1)[1].strip()
    sampled_block = next(t for t in texts if re.match(r"^1\. ", t))
    sampled = [re.sub(r"^\d+\. ", "", line) for line in sampled_block.splitlines()]
    return greedy, beam, sampled


def _vocabulary(folder) -> set[str]:
    from explorer.checkpoint import from_pretrained

    return set(from_pretrained(folder).vocabulary()) | {"<unk>"}


def test_captions_page_only_for_captioning_models(app_env):
    at = open_app(app_env["tiny-conv-mnist5k"])
    with pytest.raises(ValueError):
        switch_page(at, "captions")
    at = open_app(app_env["tiny-captioner"], "captions")
    assert any(t.value == "Captions" for t in at.title)


def test_captions_use_only_vocabulary_words_and_follow_the_sliders(captioners):
    for folder in captioners:
        at = open_app(folder, "captions")
        assert not errors(at), (folder, errors(at))
        assert at.radio(key="walk_start").value == "data set example"  # a real image, not the empty prior mean
        vocab = _vocabulary(folder)
        greedy, beam, sampled = _captions(at)
        assert len(sampled) == 5
        for caption in [greedy, beam, *sampled]:
            assert set(caption.split()) <= vocab, (folder.name, caption)
        probs = at.dataframe[0].value
        assert float(probs["p"].sum()) <= 1.0 + 1e-6 and (probs["p"] >= 0).all()
        # the same code and seed give the same captions; moving far along an axis changes them
        at.run()
        assert _captions(at) == (greedy, beam, sampled)
        at.checkbox(key="walk_collapsed").check().run()
        before = (greedy, beam, sampled, probs["p"].tolist())
        changed = False
        for slider in [s for s in at.slider if s.key.startswith("walk:")][:4]:
            slider.set_value(4.0).run()
            g, b, s = _captions(at)
            for caption in [g, b, *s]:
                assert set(caption.split()) <= vocab
            if (g, b, s, at.dataframe[0].value["p"].tolist()) != before:
                changed = True
                break
        assert changed, folder.name
        at.slider(key="cap_n").set_value(3).run()
        assert len(_captions(at)[2]) == 3


def test_captions_from_an_upload_and_map_colour_by_word(app_env):
    from PIL import Image

    from tests.support.bad_files import digit_like, encode

    folder = app_env["tiny-captioner"]
    at = open_app(folder)
    at.file_uploader(key="rec_files").set_value(("ring.png", encode(Image.fromarray(digit_like(28))), "image/png")).run()
    switch_page(at, "captions").run()
    at.radio(key="walk_start").set_value("uploaded image").run()
    assert not errors(at)
    assert set(_captions(at)[0].split()) <= _vocabulary(folder)
    switch_page(at, "map").run()
    words = at.selectbox(key="map_word").options
    assert "circle" in words
    at.selectbox(key="map_word").set_value("circle").run()
    assert not at.exception and not errors(at)
    import json

    names = {t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert names <= {"'circle' True", "'circle' False", "uploads"} and names
