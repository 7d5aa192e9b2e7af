"""The gRPC servicer: protobuf in, domain calls, protobuf out.

Errors leave through `_abort`, which maps them with the one table in common/errors.py: domain errors
keep their code, a dependency outage (PostgreSQL away, restarting, out of connections) becomes
UNAVAILABLE with a human message, a value PostgreSQL cannot store INVALID_ARGUMENT, and anything else
INTERNAL naming the stream id (the traceback goes to the log, never to the client).
Each stream has an id (`s-…`), set with the run in the log context, so every line of a stream says which.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import grpc
from google.protobuf.message import DecodeError

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from ..common.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    domain_error,
    grpc_code_name,
)
from ..common.logs import RUN, STREAM_ID, logger
from ..common.verifier import Principal, authenticate, entity_id_for_write
from . import metrics, queries, writer
from .bulk import BulkSession
from .live import LivePublisher

log = logger("ingest")


class Compactor:
    """Runs history compaction in background tasks, one at a time per run; `drain()` at shutdown."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.again: set[int] = set()

    def schedule(self, run_pk: int) -> None:
        if run_pk in self.tasks:
            self.again.add(run_pk)  # chunks written while it runs are merged by one more pass
            return
        self.tasks[run_pk] = asyncio.create_task(self._run(run_pk))
        metrics.COMPACTIONS_PENDING.inc()

    async def _run(self, run_pk: int) -> None:
        try:
            while True:
                try:
                    async with self.pool.acquire() as conn:
                        with metrics.COMPACTION_SECONDS.time():
                            await writer.compact(conn, run_pk)
                except Exception as exc:  # the data is safe; only merging waits (the next batch retries)
                    log.warning("compaction failed for run %d: %s: %s", run_pk, type(exc).__name__, exc)
                if run_pk not in self.again:
                    break
                self.again.discard(run_pk)
        finally:
            self.tasks.pop(run_pk, None)
            metrics.COMPACTIONS_PENDING.dec()

    async def drain(self, timeout: float) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=timeout)

# A key revoked while its stream is open stops working within this many seconds (checked per message).
REVERIFY_S = 2.0


class IngestServicer(pb_grpc.IngestServicer):
    def __init__(self, pool: asyncpg.Pool, limits: writer.Limits, live: LivePublisher) -> None:
        self.pool = pool
        self.limits = limits
        self.live = live
        self.compactor = Compactor(pool)

    async def Stream(  # noqa: N802 (gRPC method name)
        self, request_iterator: AsyncIterator[pb.ClientMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ServerMessage]:
        metrics.STREAMS.inc()
        stream_id = "s-" + secrets.token_hex(4)
        STREAM_ID.set(stream_id)  # each call runs in a task of its own: the context is the stream's
        RUN.set("")
        run: writer.OpenedRun | None = None
        try:
            key = self._api_key(context)
            async with self.pool.acquire() as conn:
                who = await authenticate(conn, key)
            first = await anext(aiter(request_iterator), None)
            if first is None:
                return
            if first.WhichOneof("msg") != "open":
                raise InvalidArgument("the first message of a stream must be OpenRun")
            async with self.pool.acquire() as conn:
                run = await writer.open_run(conn, who, first.open, self.limits)
            RUN.set(f"{run.entity}/{run.project}/{run.run_id}")
            log.info("stream opened: resumed=%s last_seq=%d state=%s%s", run.resumed, run.last_seq, run.state,
                     " (sync)" if run.sync else "")
            yield pb.ServerMessage(opened=run.opened())
            verified = time.monotonic()
            async for msg in request_iterator:
                if time.monotonic() - verified > REVERIFY_S:
                    await self._reverify(key, run)
                    verified = time.monotonic()
                kind = msg.WhichOneof("msg")
                if kind == "batch":
                    records = list(msg.batch.records)
                    received = time.perf_counter()
                    async with self.pool.acquire() as conn:
                        started = time.perf_counter()
                        result = await writer.write_batch(conn, run, records, self.limits)
                    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                    metrics.RECORDS.labels("ok").inc(result.stored)
                    if result.rejected:
                        metrics.RECORDS.labels("rejected").inc(len(result.rejected))
                        log.warning("rejected %d record(s) of a batch, first: %s", len(result.rejected),
                                    result.rejected[0][1][:500])
                    self.live.run_changed(run)
                    if result.finished or run.needs_compaction():
                        # after the commit and apart from the stream: the ack does not wait for it, and
                        # a client that hangs up after its last ack does not cancel it
                        self.compactor.schedule(run.pk)
                        run.loose_chunks = 0
                    metrics.ACK_LAG.observe(time.perf_counter() - received)
                    yield pb.ServerMessage(ack=pb.Ack(
                        seq=result.seq,
                        rejected=[pb.Rejected(seq=seq, reason=reason, channel=channel)
                                  for seq, reason, channel in result.rejected],
                        channel_seqs=result.channels,
                    ))
                elif kind == "heartbeat":
                    async with self.pool.acquire() as conn:
                        await writer.heartbeat(conn, run)
                elif kind == "open":
                    raise InvalidArgument("OpenRun may only be the first message of a stream")
        except asyncio.CancelledError:
            raise  # the client went away or the server stops
        except Exception as exc:
            await self._abort(context, exc, stream_id)
        finally:
            metrics.STREAMS.dec()

    async def Bulk(  # noqa: N802 (gRPC method name)
        self, request_iterator: AsyncIterator[pb.BulkRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.BulkReply]:
        """Many runs in one stream (bulk.py; proto "Bulk"): a run that cannot be written is refused
        alone; a bad key, a malformed message or the database away end the stream."""
        metrics.STREAMS.inc()
        stream_id = "b-" + secrets.token_hex(4)
        STREAM_ID.set(stream_id)
        RUN.set("")
        session: BulkSession | None = None
        try:
            key = self._api_key(context)
            async with self.pool.acquire() as conn:
                who = await authenticate(conn, key)

            async def reverify() -> Principal:
                async with self.pool.acquire() as conn:
                    problem = await queries.key_problem_by_key(conn, key)
                    if problem:
                        raise Unauthenticated(problem)
                    return await authenticate(conn, key)

            def compact(run: writer.OpenedRun) -> None:
                self.compactor.schedule(run.pk)
                run.loose_chunks = 0

            session = BulkSession(self.pool, self.limits, self.live, who, compact, reverify, REVERIFY_S)
            async for reply in session.replies(request_iterator):
                yield reply
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._abort(context, exc, stream_id)
        finally:
            metrics.STREAMS.dec()
            if session is not None and session.runs_opened:
                log.info("bulk stream ended: %d run(s) opened", session.runs_opened)

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception, stream_id: str) -> None:
        if isinstance(exc, DecodeError):  # bytes on the stream that are no ClientMessage
            exc = InvalidArgument(f"a message on this stream is not a valid runyard.v1.ClientMessage ({exc})")
        err = domain_error(exc)
        if err is None:
            log.error("stream failed with an unexpected error", exc_info=exc)
            metrics.ERRORS.labels("internal").inc()
            await context.abort(grpc.StatusCode.INTERNAL,
                                f"internal error in the ingest service (stream {stream_id}); the server log has the details")
            return
        metrics.ERRORS.labels(err.code).inc()
        if err.code == "unavailable":
            log.warning("stream ended: %s (%s: %s)", err.message, type(exc).__name__, exc)
        elif err.code not in ("unauthenticated", "permission_denied", "not_found"):
            log.info("stream ended: %s %s", err.code, err.message[:500])
        await context.abort(getattr(grpc.StatusCode, grpc_code_name(err)), err.message)

    async def _reverify(self, key: str | None, run: writer.OpenedRun) -> None:
        """The stream's key still works and still may write to the run's entity (a revoked key, a
        disabled account, a member removed from the team or made a viewer stop writing here)."""
        async with self.pool.acquire() as conn:
            problem = await queries.key_problem_by_key(conn, key)
            if problem:
                raise Unauthenticated(problem)
            who = await authenticate(conn, key)
            try:
                await entity_id_for_write(conn, who, run.entity)
            except (PermissionDenied, NotFound) as err:
                raise PermissionDenied(
                    f"you may no longer write to {run.entity}/{run.project}: {err.message}"
                ) from None

    @staticmethod
    def _api_key(context: grpc.aio.ServicerContext) -> str | None:
        for item in context.invocation_metadata() or ():
            if item.key == "authorization":
                value = item.value if isinstance(item.value, str) else item.value.decode()
                return value.removeprefix("Bearer ").strip()
        return None
