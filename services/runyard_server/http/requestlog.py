"""Request ids for the HTTP services: every request gets one, every log line of it carries it.

A request's id is its `X-Request-ID` header when that is a short plain token (a proxy or the front
door set it), else a new random one; it is echoed in the response's `X-Request-ID` header, set in
the `REQUEST_ID` context variable that the log formatters read (common/logs.py), and named in the
body of a 500, so an operator can find the line that explains it. Responses with a status of 500 or
more (but 503, logged with its reason by the error table) are logged (`request failed`), each with
method, route, status and duration.

An exception that reaches this middleware (no handler took it) is answered here, through the same
table as every other error (`errors.response_for`), before the request id leaves the context.
"""

from __future__ import annotations

import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..common.logs import REQUEST_ID, logger
from .metrics import route_label

__all__ = ["RequestIdMiddleware", "new_request_id"]

HEADER = b"x-request-id"
_VALID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
log = logger("http")


def new_request_id() -> str:
    return "r-" + secrets.token_hex(6)


class RequestIdMiddleware:
    """Pure ASGI (safe for streaming responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers") or () if k == HEADER), b"")
        rid = incoming.decode() if _VALID.match(incoming) else new_request_id()
        token = REQUEST_ID.set(rid)
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def _send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await _send(message)

        try:
            await self.app(scope, receive, _send_tracked)
        except Exception as exc:
            what = f"{scope.get('method')} {scope.get('path')}"
            if started:  # a streaming body failed half-way: nothing more can be said to the client
                log.warning("response of %s broke off: %s: %s", what, type(exc).__name__, exc)
            else:
                from .errors import response_for

                await response_for(exc, what)(scope, receive, _send)
        finally:
            if status >= 500 and status != 503:  # a 503 was logged with its reason where it was decided
                log.warning("request failed: %s %s -> %d in %.3f s", scope.get("method"), route_label(scope),
                            status, time.perf_counter() - start)
            REQUEST_ID.reset(token)
