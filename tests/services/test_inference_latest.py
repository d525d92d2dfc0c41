"""The inference queue's latest-wins calls (ui.services.inference.run_latest): a call still waiting when a newer
one for the same slot comes is dropped (its caller gets Superseded); other slots and running calls are untouched."""

from __future__ import annotations

import threading
import time

import pytest

from ui.services import inference


def test_a_waiting_call_is_dropped_for_a_newer_one_of_its_slot():
    gate = threading.Event()
    blocker = inference.submit(gate.wait, 10)  # holds the one inference thread
    ran: list[str] = []
    outcome: dict[str, object] = {}

    def call(name: str, slot: str) -> None:
        try:
            outcome[name] = inference.run_latest(slot, lambda: ran.append(name) or name)
        except inference.Superseded as exc:
            outcome[name] = exc

    first = threading.Thread(target=call, args=("first", "session-a"))
    other = threading.Thread(target=call, args=("other", "session-b"))
    first.start()
    other.start()
    time.sleep(0.2)  # both are queued behind the blocker
    second = threading.Thread(target=call, args=("second", "session-a"))
    second.start()
    time.sleep(0.2)
    gate.set()
    for t in (first, other, second):
        t.join(10)
    blocker.result(10)
    assert isinstance(outcome["first"], inference.Superseded)
    assert outcome["second"] == "second" and outcome["other"] == "other"
    assert sorted(ran) == ["other", "second"]  # the dropped call never ran


def test_a_running_call_finishes_and_errors_reach_the_caller():
    assert inference.run_latest("slot", lambda: 41 + 1) == 42
    with pytest.raises(ZeroDivisionError):
        inference.run_latest("slot", lambda: 1 / 0)
