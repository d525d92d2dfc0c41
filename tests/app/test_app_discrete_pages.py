"""Every page opens on a discrete model (the shipped fsq-mnist5k: an FSQ code with no learned codebook) with no
exception and no error element, and says what does not apply: Reconstruct scores without IWAE and says why, the
map places items by their pooled code histograms, Compare shows it beside a Gaussian-code model."""

from __future__ import annotations

import time

import pytest

from tests.support.apptest_helpers import errors, open_app, switch_page


def _clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not errors(at), (where, errors(at))


def _until(at, ready, where: str, timeout_s: float = 60.0) -> None:
    """Rerun until ready(at): the background count of code indices finishes between runs."""
    deadline = time.monotonic() + timeout_s
    while not ready(at):
        _clean(at, where)
        assert time.monotonic() < deadline, f"{where}: not ready in {timeout_s} s"
        time.sleep(0.3)
        at.run()


def test_every_page_opens_on_a_discrete_model(shipped_env):
    if "fsq-mnist5k" not in shipped_env or "conv-mnist5k" not in shipped_env:
        pytest.skip("pretrained/fsq-mnist5k and conv-mnist5k are needed")
    folder = shipped_env["fsq-mnist5k"]
    at = open_app(folder)
    at.radio(key="rec_source").set_value("Pick from the data set").run()
    _clean(at, "reconstruct")
    assert [m.label for m in at.metric] == ["reconstruction NLL", "NLL per pixel value", "PSNR"]
    assert any("No IWAE bound" in i.value for i in at.info)
    assert any("a 7 x 7 grid of 240 codes" in c.value for c in at.caption)

    switch_page(at, "walk")
    at.run()
    _until(at, lambda a: any(s.value == "Codebook usage" for s in a.subheader), "walk")
    _clean(at, "walk")
    assert any("FSQ has no learned code vectors" in c.value for c in at.caption)

    switch_page(at, "map")
    at.run()
    _until(at, lambda a: len(a.get("plotly_chart")) > 0, "map")
    _clean(at, "map")
    assert any("pooled code histogram" in c.value for c in at.caption)

    switch_page(at, "losslab")
    at.run()
    _clean(at, "losslab")
    assert [s.value for s in at.subheader][:1] and at.subheader[0].value.startswith("Variants of")

    switch_page(at, "compare")
    at.run()
    at.multiselect(key="cmp_models").set_value([str(folder), str(shipped_env["conv-mnist5k"])]).run()
    _clean(at, "compare")
    assert any("has a discrete code" in c.value for c in at.caption)

    with pytest.raises(ValueError, match="no page registered under 'captions'"):
        switch_page(at, "captions")  # Captions does not apply: the navigation does not offer it
