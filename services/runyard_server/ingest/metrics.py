"""Prometheus metrics of the ingest service (module-level, bounded labels)."""

from prometheus_client import Counter, Gauge, Histogram

STREAMS = Gauge("runyard_ingest_streams", "open ingest streams")
RECORDS = Counter("runyard_ingest_records_total", "records received", ["result"])
POINTS = Counter("runyard_ingest_points_total", "numeric history points committed")
BATCH_SECONDS = Histogram(
    "runyard_ingest_batch_seconds",
    "time to commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ERRORS = Counter("runyard_ingest_errors_total", "streams ended by an error", ["code"])
CRASHED = Counter("runyard_ingest_runs_crashed_total", "runs marked crashed for lack of heartbeat")
