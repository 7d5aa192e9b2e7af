"""Prometheus metrics of the copy-job routes and worker (module level, bounded labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..http.metrics import LATENCY_BUCKETS

__all__ = ["JOBS_FINISHED", "JOBS_RUNNING", "LATENCY", "REQUESTS"]

REQUESTS = Counter("runyard_transfers_requests_total", "HTTP requests answered by the copy-job routes",
                   ["route", "status"])
LATENCY = Histogram("runyard_transfers_request_duration_seconds", "Time to answer a copy-job request", ["route"],
                    buckets=LATENCY_BUCKETS)
JOBS_RUNNING = Gauge("runyard_transfer_jobs_running", "Copy jobs this worker runs now")
JOBS_FINISHED = Counter("runyard_transfer_jobs_finished_total", "Copy jobs this worker finished, by state", ["state"])
for _state in ("succeeded", "failed", "cancelled"):
    JOBS_FINISHED.labels(_state)
