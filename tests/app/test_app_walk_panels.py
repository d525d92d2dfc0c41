"""The walk page lays out the panel registered for the kind of code the model declares; a new panel registers
itself (ui.pages.walk.registry) without any change to the walk page."""

from __future__ import annotations

import pytest
import streamlit as st

from tests.support.apptest_helpers import errors, open_app
from ui.pages.walk import registry


def test_a_vector_code_gets_the_slider_panel(conv_model):
    at = open_app(conv_model, "walk")
    assert not at.exception and not errors(at)
    assert at.title[0].value == "Latent walk" and len(at.slider) > 0
    assert not any("its own walk panel is not available" in c.value for c in at.caption)


@pytest.mark.parametrize("registered", [True, False])
def test_a_new_kind_of_code_gets_its_registered_panel_or_the_vector_fallback(app_env, monkeypatch, registered):
    def spatial_studio(ctx):
        st.write(f"spatial panel for a {'x'.join(map(str, ctx.latent_shape))} code")

    panels = dict(registry.PANELS)
    if registered:
        panels["spatial"] = spatial_studio
    else:
        panels.pop("spatial", None)
    monkeypatch.setattr(registry, "PANELS", panels)
    at = open_app(app_env["tiny-pu"], "walk")  # Pu et al.'s code is a C x H x W map
    assert not at.exception and not errors(at)
    texts = [m.value for m in at.markdown]
    notes = [c.value for c in at.caption]
    if registered:
        assert any(t.startswith("spatial panel for a ") for t in texts), texts
    else:
        assert any("its own walk panel is not available" in n for n in notes), notes
        assert len(at.slider) > 0


def test_panel_for_falls_back_to_the_vector_panel():
    panel, own = registry.panel_for("no-such-kind")
    assert panel is registry.PANELS["vector"] and not own
