"""The walk page's live decoding: the decoder is exported on first use into the app's cache, a damaged cached
file is exported again with a message, an export failure says so and the server decodes; AppTest cannot run
the component, so its result reads "pending" and the server's slider panel is the one shown."""

from __future__ import annotations

from pathlib import Path

from tests.support.apptest_helpers import errors, image_by_caption, open_app


def _decoder_files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "models").glob("*/decoder.onnx"))


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_walk_exports_the_decoder_and_shows_the_server_panel_while_pending(conv_model, cache_dir, media):
    at = open_app(conv_model, "walk")
    assert not errors(at)
    assert _decoder_files(cache_dir), "the walk page did not export the decoder into the app's cache"
    assert any(c.startswith("Decoding on the server (the in-browser decoder is loading)") for c in _captions(at))
    assert media.get(image_by_caption(at, "decoded mean"))  # the server's panel stands in
    assert any(s.key.startswith("walk:") for s in at.slider)


def test_truncated_cached_decoder_is_exported_again(conv_model, cache_dir, media):
    open_app(conv_model, "walk")
    for path in _decoder_files(cache_dir):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    at = open_app(conv_model, "walk")
    assert not at.exception and not errors(at)
    notes = [i.value for i in at.info]
    assert any("could not be used (corrupt" in n and "exported again" in n for n in notes), notes
    assert media.get(image_by_caption(at, "decoded mean"))
    slider = next(s for s in at.slider if s.key.startswith("walk:"))
    slider.set_value(1.0).run()
    assert not at.exception and not errors(at)
    assert not [i.value for i in at.info if "exported again" in i.value]  # said once, on the run that re-made it


def test_export_failure_says_why_and_decodes_on_the_server(conv_model, media, monkeypatch):
    import explorer.onnx.export as onnx_export

    def refuse(model, digest, cache_dir, **kwargs):
        return onnx_export.ExportFailure("decoder", "conv", {"torchscript": "no graph for you", "dynamo": "nor here"})

    monkeypatch.setattr(onnx_export, "exported_decoder", refuse)
    at = open_app(conv_model, "walk")
    assert not at.exception and not errors(at)
    said = [c for c in _captions(at) if c.startswith("Decoding on the server: ")]
    assert said and "no graph for you" in said[0], _captions(at)
    before = media.get(image_by_caption(at, "decoded mean"))
    next(s for s in at.slider if s.key.startswith("walk:")).set_value(2.0).run()
    assert media.get(image_by_caption(at, "decoded mean")) != before
