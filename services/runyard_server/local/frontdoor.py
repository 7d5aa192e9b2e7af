"""One HTTP port for local mode: the auth app and the query app behind a path dispatcher.

`/api/v1/auth/...` and `/api/v1/viewer` go to the auth service, everything else (REST, SSE, the UI) to
the query service. Requests pass through untouched (no path rewriting, no root_path). The composite
lifespan enters each sub-app's own lifespan, so each opens its pools exactly as it does when it runs
alone; state a lifespan yields (Starlette's lifespan state) stays with the sub-app that yielded it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..common.settings import Settings

__all__ = ["FrontDoor", "create_app", "is_auth_path"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_PREFIX = "/api/v1/auth/"
AUTH_PATHS = frozenset({"/api/v1/auth", "/api/v1/viewer"})


def is_auth_path(path: str) -> bool:
    return path.startswith(AUTH_PREFIX) or path in AUTH_PATHS


class FrontDoor:
    """An ASGI app sending auth paths to `auth`, the rest to `query`; runs both lifespans."""

    def __init__(self, auth: Any, query: Any) -> None:
        self.auth = auth
        self.query = query
        self._states: dict[int, dict[str, Any] | None] = {id(auth): None, id(query): None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        app = self.auth if is_auth_path(scope.get("path", "")) else self.query
        state = self._states.get(id(app))
        if state is not None:
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), **state}
        await app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with contextlib.AsyncExitStack() as stack:
                for app in (self.auth, self.query):
                    ctx = app.router.lifespan_context(app)
                    state = await stack.enter_async_context(ctx)
                    self._states[id(app)] = dict(state) if state else None
                await send({"type": "lifespan.startup.complete"})
                started = True
                message = await receive()
                assert message["type"] == "lifespan.shutdown"
        except BaseException as exc:
            kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": kind, "message": f"{type(exc).__name__}: {exc}"})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def create_app(settings: Settings) -> FrontDoor:
    """The front door of `runyard-server local`: auth and query apps built from the same settings."""
    from ..auth.app import create_app as create_auth_app
    from ..query.app import create_app as create_query_app

    return FrontDoor(create_auth_app(settings), create_query_app(settings))
