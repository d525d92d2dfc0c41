"""Keep a browser page on this machine: a request to any other host is aborted, and its URL noted for the test.

    blocked = block_foreign(page)           # a Playwright page or context
    ...                                     # use the page
    assert blocked == [], blocked
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def block_foreign(target: Any, hosts: frozenset[str] | set[str] = LOCAL_HOSTS, seen: list[str] | None = None) -> list[str]:
    """Route every request of `target` (a Playwright page or browser context): data: and blob: URLs and requests
    to `hosts` go through; any other is aborted and its URL appended to `seen` (a new list by default), returned."""
    blocked: list[str] = [] if seen is None else seen

    def handle(route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in hosts:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    target.route("**/*", handle)
    return blocked
