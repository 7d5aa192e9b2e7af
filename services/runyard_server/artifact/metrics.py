"""Prometheus metrics of the artifact service (module level, bounded labels: route templates only).

The request middleware is the shared `..http.MetricsMiddleware`, fed with REQUESTS and LATENCY.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..http.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "runyard_artifact_requests_total", "HTTP requests answered by the artifact service", ["route", "status"]
)
LATENCY = Histogram(
    "runyard_artifact_request_duration_seconds", "Time to answer an artifact-service request", ["route"],
    buckets=LATENCY_BUCKETS,
)
PRESIGNED = Counter("runyard_artifact_presigned_urls_total", "Presigned URLs issued", ["kind"])
OBJECTS = Counter(
    "runyard_artifact_objects_total", "Objects asked for by clients, by outcome", ["result"]
)  # result: dedup (already stored), upload (upload started or resumed), completed, aborted, mismatch
# (mismatch: the stored bytes' SHA-256 was not the declared one; they were removed or uploaded again)
for _kind in ("put", "part", "get"):
    PRESIGNED.labels(_kind)
for _result in ("dedup", "upload", "completed", "aborted", "mismatch"):  # upload sessions: started, completed, aborted
    OBJECTS.labels(_result)
UPLOADED_BYTES = Counter("runyard_artifact_uploaded_bytes_total", "Bytes of objects completed and verified")
GC_DELETED = Counter("runyard_artifact_gc_deleted_objects_total", "Objects removed by the GC", ["kind"])
