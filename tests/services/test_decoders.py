"""A decoder goes to the page only when it fits one page message and decodes a frame within the budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import ui.services.decoders as decoders


@dataclass
class _Info:
    sha256: str
    size_bytes: int


@dataclass
class _Export:
    path: Path
    info: _Info


@pytest.fixture(autouse=True)
def _fresh_verdicts(monkeypatch):
    monkeypatch.setattr(decoders, "_VERDICTS", {})
    monkeypatch.setattr(decoders, "_FRAME_S", {})


def test_a_decoder_over_the_message_limit_is_not_sent(monkeypatch):
    monkeypatch.setattr(decoders, "frame_seconds", lambda *a: pytest.fail("no need to time a file that cannot be sent"))
    why = decoders.page_verdict(_Export(Path("x.onnx"), _Info("a", 198 * 2**20)), 200 * 2**20)
    assert "198 MB (264 MB as sent), over the page's message limit of 200 MB" in why


def test_a_slow_decoder_is_not_sent_and_a_fast_one_is(monkeypatch):
    monkeypatch.setattr(decoders, "frame_seconds", lambda path, info: 0.5)
    why = decoders.page_verdict(_Export(Path("x.onnx"), _Info("b", 2**20)), 200 * 2**20)
    assert "about 1000 ms in the page" in why and "preview tiers" in why
    monkeypatch.setattr(decoders, "frame_seconds", lambda path, info: 0.002)
    assert decoders.page_verdict(_Export(Path("y.onnx"), _Info("c", 2**20)), 200 * 2**20) == ""


def test_the_verdict_is_kept_per_file(monkeypatch):
    calls = []
    monkeypatch.setattr(decoders, "frame_seconds", lambda path, info: calls.append(path) or 0.001)
    export = _Export(Path("z.onnx"), _Info("d", 2**20))
    assert decoders.page_verdict(export, 2**30) == decoders.page_verdict(export, 2**30) == ""
    assert len(calls) == 1


def test_a_decoder_whose_weights_exceed_the_message_limit_is_refused_before_any_export(monkeypatch, tmp_path):
    import torch

    from explorer.models.registry import build_model
    from explorer.runtime.memory import part_parameter_bytes

    monkeypatch.setattr(decoders, "_SIZES", {})
    monkeypatch.setattr(decoders.inference, "exported_part", lambda *a, **k: pytest.fail("exported a decoder "
                                                                                          "too big to send"))
    torch.manual_seed(0)
    model = build_model("conv", input_shape=(1, 28, 28), latent_dim=4).eval()
    weights = part_parameter_bytes(model, "decode")
    # the decoder's own weights, not the encoder's: less than the model's, more than nothing
    assert 0 < weights < sum(p.numel() * p.element_size() for p in model.parameters())
    got, why = decoders.browser_export(model, "decoder", "d" * 64, tmp_path, message_limit_bytes=weights)
    assert got is None and f"{weights / 2**20:.0f} MB" in why and "preview tiers" in why


def test_a_part_that_cannot_be_weighed_is_judged_by_its_exported_file(monkeypatch, tmp_path):
    monkeypatch.setattr(decoders, "_SIZES", {})

    def refuse(*a, **k):
        raise RuntimeError("no decode at two latent cells")

    monkeypatch.setattr(decoders.inference, "run", refuse)
    assert decoders.size_verdict(object(), "decoder", "e" * 64, 200 * 2**20) == ""


def test_a_discrete_decode_from_indices_is_weighed_by_its_decoder_and_timed_on_indices(monkeypatch, tmp_path):
    """The "indices" part (the code-grid editor's decoder) is weighed by the decoder's weights before any export
    (the server's editor then stands in), and a small one is exported and timed on integer indices."""
    import torch

    from explorer.models.registry import build_model
    from explorer.runtime.memory import part_parameter_bytes

    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(decoders, "_SIZES", {})
    monkeypatch.setattr(decoders.inference, "run", lambda fn, *a, **k: fn(*a, **k))  # no inference thread here
    torch.manual_seed(0)
    model = build_model("vqvae", input_shape=(1, 16, 16), channels=(8, 16), res_blocks=1, codebook_size=16,
                        code_dim=4).eval()
    weights = part_parameter_bytes(model, "decode")
    got, why = decoders.browser_export(model, "indices", "f" * 64, tmp_path, message_limit_bytes=weights)
    assert got is None and "the server decodes the edited grids instead" in why
    got, why = decoders.browser_export(model, "indices", "f" * 64, tmp_path, message_limit_bytes=2**30)
    assert got is not None and got.path.name == "indices.onnx" and why == ""
    assert 0 < decoders.frame_seconds(got.path, got.info) < 1.0  # fed int64 indices, as the page does
