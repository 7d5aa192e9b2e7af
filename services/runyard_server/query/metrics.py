"""Prometheus metrics of the query service (module level, bounded labels: route templates only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..http.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "runyard_query_requests_total", "HTTP requests answered by the query service", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_query_request_duration_seconds", "Time to answer a query request", ["route"], buckets=LATENCY_BUCKETS,
)
