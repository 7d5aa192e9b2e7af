"""Prometheus metrics of the W&B compatibility service (module level, bounded labels)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..http.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "runyard_wandb_requests_total", "HTTP requests answered by the W&B compatibility service", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_wandb_request_duration_seconds", "Time to answer a W&B protocol request", ["route"],
    buckets=LATENCY_BUCKETS,
)
LINES = Counter(
    "runyard_wandb_filestream_lines_total", "Lines received on the W&B file stream, by file and result",
    ["file", "result"],
)
