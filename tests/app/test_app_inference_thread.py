"""Every model call the pages make runs on the inference thread (ui/services/inference.py), and only there.

The loaded models are wrapped: a forward pre-hook on every submodule records the thread of each call. Each page
is then driven in AppTest (Reconstruct with an upload and a test item, the walk with its grid and interpolation,
the map with a picked point, the loss lab, and captions plus the map's caption colouring for the 'tinycap'
family); every recorded call must come from a thread named vae-inference-*. A static check backs it up: no
module of ui/ but inference.py and scoring.py calls a model method or the explorer functions that run one.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from PIL import Image

from tests.support.apptest_helpers import errors, open_app, switch_page
from tests.support.bad_files import digit_like, encode

UI = Path(__file__).resolve().parents[2] / "ui"
MODEL_CALLS = re.compile(r"(?<!inference)\.(forward|encode|decode|encode_code|decode_code|encode_full|elbo_terms|loss_terms|"
                         r"iwae_log_weights|reconstruct|sample|interpolate|captions|label_probabilities)\((?!\)|[\"'])")  # str.encode(), bytes.decode("ascii") are no model
RUNNERS = re.compile(r"\b(encode_means|iwae_bound|score_items|from explorer\.latent import[^\n]*\bdecode\b)")


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str]]:
    """(thread name, module class) of every module call of the models the app loads during the test."""
    import streamlit as st

    import explorer.checkpoint
    from ui.app.catalogue import load_model

    seen: list[tuple[str, str]] = []
    real = explorer.checkpoint.from_pretrained

    def hook(module, args):
        seen.append((threading.current_thread().name, type(module).__name__))

    def guarded(*args, **kwargs):
        model = real(*args, **kwargs)
        for m in model.modules():
            m.register_forward_pre_hook(hook)
        return model

    monkeypatch.setattr(explorer.checkpoint, "from_pretrained", guarded)
    load_model.clear()  # models and arrays computed before this test would hide calls
    st.cache_data.clear()
    yield seen
    load_model.clear()
    st.cache_data.clear()


def _off_thread(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [c for c in seen if not c[0].startswith("vae-inference")]


def test_every_page_calls_the_model_on_the_inference_thread(app_env, calls):
    at = open_app(app_env["tiny-conv-mnist5k"])
    png = encode(Image.fromarray(digit_like(28)))
    at.radio(key="rec_source").set_value("Upload images").run()
    at.file_uploader(key="rec_files").set_value(("ring.png", png, "image/png")).run()
    assert not errors(at) and any(m.label == "ELBO" for m in at.metric)
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    switch_page(at, "walk").run()
    at.toggle(key="walk_grid").set_value(True).run()
    next(s for s in at.slider if s.key.startswith("walk:")).set_value(1.5).run()
    at.radio(key="walk_start").set_value("uploaded image").run()
    switch_page(at, "map").run()
    key = next(k for k in at.session_state if str(k).startswith("map:"))
    at.session_state[key] = {"selection": {"points": [{"curve_number": 0, "point_index": 0}], "point_indices": [0],
                                           "box": [], "lasso": []}}
    at.run()
    switch_page(at, "losslab").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    assert len(calls) > 20, calls  # the pages did call the model
    assert not _off_thread(calls), sorted(set(_off_thread(calls)))


def test_captions_and_caption_colours_run_on_the_inference_thread(app_env, calls):
    at = open_app(app_env["tiny-captioner"], "captions")
    assert any(m.value.startswith("**Greedy:**") for m in at.markdown)
    next(s for s in at.slider if s.key.startswith("walk:")).set_value(2.0).run()
    switch_page(at, "map").run()
    at.selectbox(key="map_word").set_value("circle").run()
    assert not at.exception and not errors(at), [e.value for e in at.exception] + errors(at)
    assert {"Linear"} <= {c[1] for c in calls}
    assert not _off_thread(calls), sorted(set(_off_thread(calls)))


def test_no_ui_module_but_inference_calls_a_model():
    found = []
    for path in sorted(UI.rglob("*.py")):
        if path.name in ("inference.py", "scoring.py"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if MODEL_CALLS.search(code) or RUNNERS.search(code):
                found.append(f"{path.relative_to(UI.parent)}:{n}: {line.strip()}")
    assert not found, "model calls outside ui/services/inference.py:\n" + "\n".join(found)
