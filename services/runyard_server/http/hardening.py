"""What every HTTP service puts between the network and its routes (docs/security.md).

One pure-ASGI middleware, installed by `install_hardening(app, settings)` in each app factory, in order:
1. the client address and scheme: `X-Forwarded-For` / `X-Forwarded-Proto` are believed only from the
   proxies in `RUNYARD_TRUSTED_PROXIES` (`common/netaddr.py`); nobody else can forge the address that
   login limits and the audit log see. Uvicorn's own proxy-header handling is off (`cli.py`);
2. request sizes: a path over `HTTP_URL_PATH_MAX` or a query string over `HTTP_QUERY_STRING_MAX` is 414, a
   body over the service's limit (`RUNYARD_MAX_REQUEST_BYTES`) is 413 — by Content-Length before any byte
   is read, or as soon as a chunked body passes the limit;
3. `/metrics` on the service port: 404 unless `RUNYARD_METRICS_TOKEN` is set, then only with
   `Authorization: Bearer <token>` (else 401); `RUNYARD_METRICS_PORT` serves it on an internal port instead;
4. browser hardening headers on every response: a strict Content-Security-Policy (HTML: scripts only from
   this origin, no inline script, `frame-ancestors` from `RUNYARD_CSP_FRAME_ANCESTORS`, default 'none';
   anything else: `default-src 'none'`), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
   no-referrer`, `X-Frame-Options: DENY` (when nobody may frame), `Cross-Origin-Opener-Policy`,
   `Cross-Origin-Resource-Policy: same-origin`, and HSTS when the request came over https.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..common.limits import HTTP_QUERY_STRING_MAX, HTTP_URL_PATH_MAX
from ..common.netaddr import Networks, client_from_forwarded, is_trusted, parse_networks
from ..common.settings import Settings

__all__ = ["HardeningMiddleware", "api_csp", "install_hardening", "origin_of", "page_csp"]

HSTS = "max-age=31536000"


def origin_of(url: str) -> str:
    """`http://minio:9000/bucket` -> `http://minio:9000`; '' for an empty or relative URL."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def page_csp(frame_ancestors: str = "'none'", extra_origins: Iterable[str] = ()) -> str:
    """The policy of every HTML page (the UI, the API docs): scripts and styles only from this origin
    (styles may also be inline: notebook outputs and the chart library set them), images, media and
    fetches also from the bucket (`extra_origins`: presigned URLs), no plugins, no <base>, forms only here."""
    extra = " ".join(o for o in dict.fromkeys(extra_origins) if o)
    tail = f" {extra}" if extra else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{tail}",
        f"media-src 'self' blob:{tail}",
        f"connect-src 'self'{tail}",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def api_csp(frame_ancestors: str = "'none'") -> str:
    """JSON, event streams, assets: nothing may run or load in their context."""
    return f"default-src 'none'; frame-ancestors {frame_ancestors}; base-uri 'none'"


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail, "code": code}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return ({"type": "http.response.start", "status": status, "headers": raw},
            {"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised from `receive` when a body passes the limit; an HTTPException, so FastAPI's body parsing
    lets it through to the error handlers (which answer 413 `resource_exhausted`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes (RUNYARD_MAX_REQUEST_BYTES)")


class HardeningMiddleware:
    """See the module docstring. `body_max` is this service's request body limit in bytes."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Networks, body_max: int, metrics_token: str,
                 frame_ancestors: str, extra_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = trusted_proxies
        self.body_max = body_max
        self.metrics_token = metrics_token
        page = page_csp(frame_ancestors, extra_origins).encode()
        api = api_csp(frame_ancestors).encode()
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                  (b"cross-origin-opener-policy", b"same-origin"),
                  (b"cross-origin-resource-policy", b"same-origin")]
        if frame_ancestors == "'none'":
            common.append((b"x-frame-options", b"DENY"))
        self._page_headers = [(b"content-security-policy", page), *common]
        self._api_headers = [(b"content-security-policy", api), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self._forwarded(scope)
        refusal = self._refuse(scope)
        if refusal is not None:
            start, body = refusal
            start["headers"] = start["headers"] + self._api_headers
            await send(start)
            await send(body)
            return
        https = scope.get("scheme") == "https"
        started = False

        async def send_hardened(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = self._with_headers(list(message.get("headers", [])), https)
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_max:
                    raise _TooLarge(self.body_max)
            return message

        try:
            await self.app(scope, receive_limited, send_hardened)
        except _TooLarge:
            if started:
                raise
            start, body = self._too_large()
            start["headers"] = start["headers"] + self._api_headers
            await send(start)
            await send(body)

    # -- the steps
    def _forwarded(self, scope: Scope) -> Scope:
        if not self.trusted or scope.get("runyard.forwarded"):
            return scope
        client = scope.get("client")
        peer = client[0] if client else ""
        if not is_trusted(peer, self.trusted):
            return scope
        scope = dict(scope)
        scope["runyard.forwarded"] = True
        headers = scope.get("headers", [])
        xff = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
        if xff:
            scope["client"] = (client_from_forwarded(peer, xff, self.trusted), 0)
        protos = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-proto"]
        if protos:
            proto = protos[-1].split(",")[-1].strip().lower()  # what the nearest proxy saw
            if proto in ("http", "https"):
                scope["scheme"] = proto
        return scope

    def _refuse(self, scope: Scope) -> tuple[Message, Message] | None:
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if len(raw_path) > HTTP_URL_PATH_MAX:
            return _error(414, "invalid_argument", f"the URL path is longer than {HTTP_URL_PATH_MAX} bytes")
        if len(scope.get("query_string", b"")) > HTTP_QUERY_STRING_MAX:
            return _error(414, "invalid_argument",
                          f"the query string is longer than {HTTP_QUERY_STRING_MAX} bytes")
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return _error(400, "invalid_argument", "Content-Length is not a number")
                if length > self.body_max:
                    return self._too_large()
        if scope.get("path") == "/metrics":
            return self._metrics_refusal(scope)
        return None

    def _too_large(self) -> tuple[Message, Message]:
        return _error(413, "resource_exhausted", f"the request body is larger than {self.body_max} bytes "
                      "(RUNYARD_MAX_REQUEST_BYTES)")

    def _metrics_refusal(self, scope: Scope) -> tuple[Message, Message] | None:
        if not self.metrics_token:
            return _error(404, "not_found", "/metrics is not served on this port: set RUNYARD_METRICS_PORT (an "
                          "internal port) or RUNYARD_METRICS_TOKEN (docs/security.md)")
        auth = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"), "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.metrics_token.encode()):
            return _error(401, "unauthenticated", "/metrics needs `Authorization: Bearer <RUNYARD_METRICS_TOKEN>`",
                          {"WWW-Authenticate": "Bearer"})
        return None

    def _with_headers(self, headers: list[Any], https: bool) -> list[Any]:
        present = {k.lower() for k, _ in headers}
        ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        extra = self._page_headers if ctype.startswith(b"text/html") else self._api_headers
        out = headers + [(k, v) for k, v in extra if k not in present]
        if https and b"strict-transport-security" not in present:
            out.append((b"strict-transport-security", HSTS.encode()))
        return out


def install_hardening(app: Any, settings: Settings, *, body_max: int | None = None) -> None:
    """Add the hardening middleware to a FastAPI app (call it last, so it runs first)."""
    bucket = origin_of(settings.s3_public_endpoint or settings.s3_endpoint)
    app.add_middleware(
        HardeningMiddleware,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        body_max=body_max or settings.max_request_bytes,
        metrics_token=settings.metrics_token,
        frame_ancestors=settings.csp_frame_ancestors,
        extra_origins=[bucket] if bucket else [],
    )
