"""Prometheus metrics of the auth service (module level, bounded labels: route templates only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..http.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "runyard_auth_requests_total", "HTTP requests answered by the auth service", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_auth_request_duration_seconds", "Time to answer an auth request", ["route"], buckets=LATENCY_BUCKETS,
)
LOGINS = Counter("runyard_auth_logins_total", "Login attempts", ["result"])
for _result in ("success", "failure", "disabled", "rate_limited"):
    LOGINS.labels(_result)  # every outcome is a series from the start
