"""Item images over plain HTTP, so a map's hovered item shows its original without a script rerun.

A rerun costs 200-700 ms here (measured: bench/bench_big_map.py, "server ms"); an HTTP GET of one small PNG a few
ms. A page registers `image(index) -> PNG bytes` for what it shows and passes the URL prefix to the big-map
component, which fetches `<prefix><index>` when the pointer rests on a point. The route exists only when the app
runs through `ui/entry/serve.py` (st.App with `ROUTES`: `vae-explorer`, `scripts/app.sh`); under a plain
`streamlit run app.py` `item_url` returns None and the component asks through a rerun as before.

Tokens are random (secrets.token_urlsafe), one per session for what it shows now; the registry holds the last
`MAX_SOURCES` sessions and nothing else is reachable: a request names a token and an integer index, never a path.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "/api/vae/item"
MAX_SOURCES = 32

_lock = threading.Lock()
_by_token: OrderedDict[str, ItemSource] = OrderedDict()
_by_session: dict[str, tuple[str, str]] = {}  # session -> (what it shows, its token)
_mounted = False


@dataclass
class ItemSource:
    """What a token serves: image(index) -> PNG bytes for 0 <= index < count."""

    count: int
    image: Callable[[int], bytes]
    session: str


def mark_mounted() -> None:
    """Called by the entry that adds `ROUTES` to the server (ui/entry/serve.py)."""
    global _mounted
    _mounted = True


def mounted() -> bool:
    return _mounted


def session_key() -> str:
    """This script run's session id ("" outside a Streamlit session)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def register(session: str, what: str, count: int, image: Callable[[int], bytes]) -> str:
    """Token for what a session shows; the same token on every rerun (its image function replaced by the newest),
    a new one when the session shows something else (the old token is then forgotten, and with it the arrays its
    image function holds: one entry per session, at most MAX_SOURCES)."""
    with _lock:
        shown, token = _by_session.get(session, ("", ""))
        if shown != what or token not in _by_token:
            _by_token.pop(token, None)
            token = secrets.token_urlsafe(18)
            _by_session[session] = (what, token)
        _by_token[token] = ItemSource(int(count), image, session)
        _by_token.move_to_end(token)
        while len(_by_token) > MAX_SOURCES:
            _, old = _by_token.popitem(last=False)
            _by_session.pop(old.session, None)
    return token


def item_url(session: str, what: str, count: int, image: Callable[[int], bytes]) -> str | None:
    """URL prefix ('<PREFIX>/<token>/') for the page to append an index to; None where the route is not served."""
    if not _mounted:
        return None
    return f"{PREFIX}/{register(session, what, count, image)}/"


def lookup(token: str, index: int) -> tuple[ItemSource | None, str]:
    """(source, '') or (None, why) for a request."""
    with _lock:
        source = _by_token.get(token)
    if source is None:
        return None, "unknown or expired item token"
    if not 0 <= index < source.count:
        return None, f"no item {index}: there are {source.count:,}"
    return source, ""


async def _serve(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse, Response

    try:
        index = int(request.path_params["index"])
    except (KeyError, ValueError):
        return PlainTextResponse("the index must be an integer", status_code=404)
    source, why = lookup(str(request.path_params.get("token", "")), index)
    if source is None:
        return PlainTextResponse(why, status_code=404)
    try:
        png = await run_in_threadpool(source.image, index)
    except Exception as exc:  # noqa: BLE001  (a failing image is that request's 500, the server serves on)
        return PlainTextResponse(f"item {index}: {type(exc).__name__}: {str(exc)[:200]}", status_code=500)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


def routes() -> list:
    """The Starlette routes to pass to st.App(routes=...)."""
    from starlette.routing import Route

    return [Route(PREFIX + "/{token}/{index:int}", _serve, methods=["GET"])]


__all__ = ["ItemSource", "MAX_SOURCES", "PREFIX", "item_url", "lookup", "mark_mounted", "mounted", "register", "routes", "session_key"]
