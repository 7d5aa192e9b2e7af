"""Prometheus metrics of the ingest service (module level, bounded labels: never a run id).

Labels take only known values (error codes, gRPC method names of registered services, outcomes), and
every labelled series the dashboard reads exists from the start, so `rate()` reads 0 rather than
nothing on a quiet instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram

from ..common.errors import RunyardError

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

STREAMS = Gauge("runyard_ingest_streams", "open ingest streams")
RECORDS = Counter("runyard_ingest_records_total", "records received", ["result"])
POINTS = Counter("runyard_ingest_points_total", "numeric history points committed")
BATCH_SECONDS = Histogram(
    "runyard_ingest_batch_seconds", "time to commit one batch (the database transaction)", buckets=_LATENCY
)
ACK_LAG = Histogram(
    "runyard_ingest_ack_lag_seconds",
    "time from a batch's arrival to its acknowledgement (pool wait, commit and live publish)",
    buckets=_LATENCY,
)
ERRORS = Counter("runyard_ingest_errors_total", "streams ended by an error", ["code"])
CRASHED = Counter("runyard_ingest_runs_crashed_total", "runs marked crashed for lack of heartbeat")
COMPACTIONS_PENDING = Gauge(
    "runyard_ingest_compactions_pending", "runs whose history compaction is queued or running (the backlog)"
)
COMPACTION_SECONDS = Histogram(
    "runyard_ingest_compaction_seconds", "time to compact one run's loose history chunks",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
GRPC_REQUESTS = Counter(
    "runyard_ingest_grpc_requests_total", "gRPC calls handled, by method and status code", ["method", "code"]
)
GRPC_SECONDS = Histogram(
    "runyard_ingest_grpc_duration_seconds", "gRPC call duration (a Stream call lasts as long as the run's stream)",
    ["method"], buckets=(0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0),
)

RECORDS.labels("ok")
RECORDS.labels("rejected")  # records refused alone (Ack.rejected)
for _error in ("invalid_argument", "already_exists", "unauthenticated", "permission_denied", "not_found", "resource_exhausted",
              "failed_precondition", "unavailable", "internal"):
    ERRORS.labels(_error)
BULK_RUNS = Counter("runyard_ingest_bulk_runs_total", "runs opened through Ingest.Bulk streams")
BULK_GROUPS = Counter(
    "runyard_ingest_bulk_groups_total",
    "Ingest.Bulk request groups: committed in one transaction, or split (applied one by one after a refusal)",
    ["outcome"],
)
BULK_GROUPS.labels("committed")
BULK_GROUPS.labels("split")
for _method in ("/runyard.v1.Ingest/Stream", "/runyard.v1.Ingest/Bulk"):
    GRPC_REQUESTS.labels(_method, "OK")
    GRPC_SECONDS.labels(_method)


def _status_name(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if code is None else str(code)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every call of a registered method by (method, code): RED per gRPC method."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = str(details.method)
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                _streaming(handler.stream_stream, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method), handler.request_deserializer, handler.response_serializer
            )
        return handler


def _observe(method: str, code: str, started: float) -> None:
    GRPC_REQUESTS.labels(method, code).inc()
    GRPC_SECONDS.labels(method).observe(time.perf_counter() - started)


def _failure_code(exc: BaseException, context: grpc.aio.ServicerContext) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    if isinstance(exc, RunyardError):
        return exc.grpc or exc.code.upper()
    return _status_name(context) if context.code() is not None else "UNKNOWN"


def _streaming(behavior: Callable[..., AsyncIterator[Any]], method: str) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        code = "OK"
        try:
            async for response in behavior(request, context):
                yield response
            if context.code() is not None:
                code = _status_name(context)
        except BaseException as exc:
            code = _failure_code(exc, context)
            raise
        finally:
            _observe(method, code, started)

    return wrapped


def _unary(behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        code = "OK"
        try:
            response = await behavior(request, context)
            if context.code() is not None:
                code = _status_name(context)
            return response
        except BaseException as exc:
            code = _failure_code(exc, context)
            raise
        finally:
            _observe(method, code, started)

    return wrapped
