"""Prometheus metrics of the TensorBoard component (module level, bounded labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..http.metrics import LATENCY_BUCKETS

__all__ = ["CACHE_BYTES", "CACHE_DOWNLOADED", "CACHE_EVICTIONS", "CACHE_LIMIT", "CACHE_REQUESTS", "LATENCY",
           "REQUESTS", "VIEWS"]

REQUESTS = Counter(
    "runyard_tensorboard_requests_total", "HTTP requests answered by the TensorBoard component", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_tensorboard_request_duration_seconds", "Time to answer a TensorBoard request", ["route"],
    buckets=LATENCY_BUCKETS,
)
CACHE_BYTES = Gauge("runyard_tensorboard_cache_bytes", "Bytes of event files held in the on-disk cache")
CACHE_LIMIT = Gauge("runyard_tensorboard_cache_limit_bytes", "The cache's bound (RUNYARD_TENSORBOARD_CACHE_BYTES)")
CACHE_REQUESTS = Counter(
    "runyard_tensorboard_cache_syncs_total", "Runs brought up to date in the cache, by outcome", ["result"]
)  # result: hit (nothing to fetch), miss (bytes fetched)
CACHE_DOWNLOADED = Counter("runyard_tensorboard_cache_downloaded_bytes_total", "Bytes fetched from the bucket")
CACHE_EVICTIONS = Counter("runyard_tensorboard_cache_evictions_total", "Runs removed from the cache to make room")
VIEWS = Gauge("runyard_tensorboard_views", "TensorBoard views (a run, or runs together) loaded in memory")
for _result in ("hit", "miss"):
    CACHE_REQUESTS.labels(_result)
