"""The ingest gRPC server: factory, crash detector, health and metrics, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from ..common import logs
from ..common.db import create_pool
from ..common.settings import Settings
from . import metrics, queries
from .live import LivePublisher
from .servicer import IngestServicer
from .validate import Limits

log = logs.logger("ingest")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass
class IngestServer:
    """A started ingest server and what it owns; `stop()` drains streams, then closes the pool."""

    server: grpc.aio.Server
    port: int
    pool: asyncpg.Pool
    live: LivePublisher
    health: health.HealthServicer
    servicer: IngestServicer
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        for task in self.tasks:
            task.cancel()
        await self.server.stop(grace)
        await self.servicer.compactor.drain(grace)
        await self.live.close()
        await self.pool.close()


async def create_server(settings: Settings, *, port: int | None = None) -> IngestServer:
    """Open the pool and start serving on `port` (default settings.ingest_port; 0 picks a free one)."""
    pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    live = LivePublisher(settings.redis_url)
    server = grpc.aio.server(
        interceptors=[metrics.MetricsInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.so_reuseport", 0),  # a second ingest on a taken port must fail, not share it
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ]
    )
    limits = Limits(settings.max_batch_records, settings.max_key_length, settings.max_json_value_bytes)
    servicer = IngestServicer(pool, limits, live)
    pb_grpc.add_IngestServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{settings.ingest_host}:{settings.ingest_port if port is None else port}")
    if bound == 0:
        await pool.close()
        raise OSError(f"ingest: cannot listen on {settings.ingest_host}:{settings.ingest_port}")
    await server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("runyard.v1.Ingest", health_pb2.HealthCheckResponse.SERVING)
    srv = IngestServer(server, bound, pool, live, health_servicer, servicer)
    srv.tasks.append(asyncio.create_task(_crash_detector(pool, settings)))
    return srv


async def _crash_detector(pool: asyncpg.Pool, settings: Settings) -> None:
    """Mark running runs without a heartbeat for `heartbeat_timeout_s` as crashed."""
    while True:
        await asyncio.sleep(settings.crash_check_interval_s)
        try:
            async with pool.acquire() as conn:
                crashed = await queries.mark_crashed(conn, settings.heartbeat_timeout_s)
            if crashed:
                metrics.CRASHED.inc(len(crashed))
                log.warning("marked crashed (no heartbeat for %.0f s): %d run(s): %s", settings.heartbeat_timeout_s,
                            len(crashed), ", ".join(crashed[:20]))
        except Exception as exc:  # the database away: the next round tries again
            log.warning("crash check failed: %s: %s", type(exc).__name__, exc)


async def _http_side(pool: asyncpg.Pool, host: str, port: int) -> asyncio.Server:
    """/healthz, /readyz and /metrics on a small HTTP port beside gRPC."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
            if path == "/healthz":
                status, body = "200 OK", b"ok\n"
            elif path == "/readyz":
                try:
                    async with pool.acquire(timeout=2) as conn:
                        await conn.fetchval("SELECT 1")
                    status, body = "200 OK", b"ready\n"
                except Exception as exc:  # not ready: say why
                    status, body = "503 Service Unavailable", f"database: {exc}\n".encode()
            elif path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then stop with grace (in-flight batches finish and are acknowledged)."""
    logs.configure(settings.log_level, settings.log_format)
    srv = await create_server(settings)
    http = None
    if settings.ingest_metrics_port:
        http = await _http_side(srv.pool, settings.ingest_host, settings.ingest_metrics_port)
    log.info("ingest listening on port %d", srv.port,
             extra={"port": srv.port, "metrics_port": settings.ingest_metrics_port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("ingest stopping: draining streams for up to %.0f s", settings.shutdown_grace_s)
    if http is not None:
        http.close()
    await srv.stop(settings.shutdown_grace_s)
