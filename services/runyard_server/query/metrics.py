"""Prometheus metrics of the query service (module level, bounded labels: route templates only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..http.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "runyard_query_requests_total", "HTTP requests answered by the query service", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_query_request_duration_seconds", "Time to answer a query request", ["route"], buckets=LATENCY_BUCKETS,
)
SSE_CONNECTIONS = Gauge("runyard_query_sse_connections", "open live-update streams (Server-Sent Events)")
SSE_EVENTS = Counter("runyard_query_sse_events_total", "run-change events sent on live-update streams")
