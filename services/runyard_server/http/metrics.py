"""The request-metrics middleware; each service owns its (module-level) counters and passes them in."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def route_label(scope: Scope) -> str:
    """The route template (bounded), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Pure ASGI (safe for streaming responses): counts and times every HTTP request by route template.

    `app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)` with a Counter
    labelled (route, status) and a Histogram labelled (route).
    """

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            label = route_label(scope)
            self.requests.labels(label, str(status)).inc()
            self.latency.labels(label).observe(time.perf_counter() - start)
