"""ui/services/itemserver.py: tokens per (session, what), bounded; the route answers an integer index of a registered token
with that item's PNG and nothing else (unknown token, out of range, not an integer, a failing image)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.requests import Request

from ui.services import itemserver


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    monkeypatch.setattr(itemserver, "_by_token", itemserver.OrderedDict())
    monkeypatch.setattr(itemserver, "_by_session", {})
    monkeypatch.setattr(itemserver, "_mounted", False)


def _get(token: str, index) -> tuple[int, bytes, str]:
    scope = {"type": "http", "method": "GET", "path": f"{itemserver.PREFIX}/{token}/{index}", "headers": [],
             "query_string": b"", "path_params": {"token": token, "index": index}}
    # in a thread of its own: a session's Playwright (sync API) keeps an event loop running in this worker's main
    # thread once a browser test has run here, and asyncio.run refuses to start inside a running loop
    with ThreadPoolExecutor(1) as pool:
        response = pool.submit(asyncio.run, itemserver._serve(Request(scope))).result()
    return response.status_code, bytes(response.body), response.media_type or ""


def test_no_url_until_the_route_is_mounted():
    assert itemserver.item_url("s", "map", 10, lambda i: b"png") is None
    itemserver.mark_mounted()
    url = itemserver.item_url("s", "map", 10, lambda i: b"png")
    assert url.startswith(itemserver.PREFIX + "/") and url.endswith("/")


def test_the_same_token_on_every_rerun_and_the_newest_image_function():
    first = itemserver.register("s1", "map", 10, lambda i: b"old")
    again = itemserver.register("s1", "map", 10, lambda i: f"new {i}".encode())
    other = itemserver.register("s2", "map", 10, lambda i: b"x")
    assert first == again != other and len(first) >= 24
    assert _get(first, 3) == (200, b"new 3", "image/png")


def test_a_session_showing_something_else_gets_a_new_token_and_the_old_one_is_forgotten():
    first = itemserver.register("s", "map of A", 5, lambda i: b"a")
    second = itemserver.register("s", "map of B", 9, lambda i: b"b")
    assert second != first and len(itemserver._by_token) == 1
    assert _get(first, 1)[0] == 404 and _get(second, 8) == (200, b"b", "image/png")


def test_tokens_are_bounded_oldest_first():
    tokens = [itemserver.register(f"s{k}", "map", 5, lambda i: b"p") for k in range(itemserver.MAX_SOURCES + 3)]
    assert len(itemserver._by_token) == itemserver.MAX_SOURCES
    assert _get(tokens[0], 1)[0] == 404 and _get(tokens[-1], 1)[0] == 200
    # a session whose token expired gets a new one
    assert itemserver.register("s0", "map", 5, lambda i: b"p") != tokens[0]


@pytest.mark.parametrize("index", [-1, 7, 10**12])
def test_indices_outside_the_items_are_404(index):
    token = itemserver.register("s", "map", 7, lambda i: b"p")
    status, body, _ = _get(token, index)
    assert status == 404 and b"there are 7" in body


def test_unknown_tokens_and_non_integers_are_404_and_no_image_is_made():
    made = []
    token = itemserver.register("s", "map", 7, lambda i: made.append(i) or b"p")
    assert _get("../../etc/passwd", 1)[:2] == (404, b"unknown or expired item token")
    assert _get(token, "../x.png")[0] == 404
    assert made == []


def test_a_failing_image_is_a_500_with_its_reason():
    def broken(i: int) -> bytes:
        raise OSError(f"item {i} unreadable")

    token = itemserver.register("s", "map", 7, broken)
    status, body, _ = _get(token, 2)
    assert status == 500 and b"OSError" in body and b"unreadable" in body


def test_the_route_matches_only_integer_indices():
    (route,) = itemserver.routes()
    assert route.matches({"type": "http", "path": f"{itemserver.PREFIX}/tok/12", "method": "GET"})[0].name == "FULL"
    assert route.matches({"type": "http", "path": f"{itemserver.PREFIX}/tok/1.png", "method": "GET"})[0].name == "NONE"
    assert route.matches({"type": "http", "path": f"{itemserver.PREFIX}/a/b/3", "method": "GET"})[0].name == "NONE"
