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
