"""The gRPC servicer: protobuf in, domain calls, protobuf out. Errors are mapped in `_abort`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import asyncpg
import grpc

from runyard.v1 import ingest_pb2 as pb
from runyard.v1 import ingest_pb2_grpc as pb_grpc

from ..common.errors import InvalidArgument, RunyardError, Unauthenticated, grpc_code_name
from ..common.verifier import Principal, authenticate
from . import metrics, queries, writer
from .live import LivePublisher

log = logging.getLogger("runyard.ingest")

# A key revoked while its stream is open stops working within this many seconds (checked per message).
REVERIFY_S = 2.0


class IngestServicer(pb_grpc.IngestServicer):
    def __init__(self, pool: asyncpg.Pool, limits: writer.Limits, live: LivePublisher) -> None:
        self.pool = pool
        self.limits = limits
        self.live = live

    async def Stream(  # noqa: N802 (gRPC method name)
        self, request_iterator: AsyncIterator[pb.ClientMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ServerMessage]:
        metrics.STREAMS.inc()
        try:
            who = await self._principal(context)
            first = await anext(aiter(request_iterator), None)
            if first is None:
                return
            if first.WhichOneof("msg") != "open":
                raise InvalidArgument("the first message of a stream must be OpenRun")
            async with self.pool.acquire() as conn:
                run = await writer.open_run(conn, who, first.open, self.limits)
            log.info(
                "stream opened run=%s/%s/%s resumed=%s last_seq=%d",
                run.entity, run.project, run.run_id, run.resumed, run.last_seq,
            )
            yield pb.ServerMessage(
                opened=pb.RunOpened(
                    run_id=run.run_id, entity=run.entity, project=run.project, name=run.name,
                    resumed=run.resumed, last_seq=run.last_seq, next_step=run.next_step, state=run.state,
                )
            )
            verified = time.monotonic()
            async for msg in request_iterator:
                if time.monotonic() - verified > REVERIFY_S:
                    await self._reverify(who)
                    verified = time.monotonic()
                kind = msg.WhichOneof("msg")
                if kind == "batch":
                    records = list(msg.batch.records)
                    started = time.perf_counter()
                    async with self.pool.acquire() as conn:
                        seq, finished = await writer.write_batch(conn, run, records, self.limits)
                        if finished or run.needs_compaction():
                            await writer.compact(conn, run.pk)
                            run.loose_chunks = 0
                    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                    metrics.RECORDS.labels("ok").inc(len(records))
                    self.live.run_changed(run)
                    yield pb.ServerMessage(ack=pb.Ack(seq=seq))
                elif kind == "heartbeat":
                    async with self.pool.acquire() as conn:
                        await writer.heartbeat(conn, run)
                elif kind == "open":
                    raise InvalidArgument("OpenRun may only be the first message of a stream")
        except RunyardError as err:
            metrics.ERRORS.labels(err.code).inc()
            await context.abort(getattr(grpc.StatusCode, grpc_code_name(err)), err.message)
        finally:
            metrics.STREAMS.dec()

    async def _reverify(self, who: Principal) -> None:
        async with self.pool.acquire() as conn:
            problem = await queries.key_problem(conn, who.key_id)
        if problem:
            raise Unauthenticated(problem)

    async def _principal(self, context: grpc.aio.ServicerContext) -> Principal:
        key = None
        for item in context.invocation_metadata() or ():
            if item.key == "authorization":
                value = item.value if isinstance(item.value, str) else item.value.decode()
                key = value.removeprefix("Bearer ").strip()
        async with self.pool.acquire() as conn:
            return await authenticate(conn, key)
