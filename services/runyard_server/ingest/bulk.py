"""Ingest.Bulk: many runs in one stream (proto: "Bulk"), for importers, transfers and seeding.

Each run of the stream lives under a client-chosen `ref` and follows the rules of a Stream of its own:
`writer.open_run` and `writer.write_batch` do the work, so validation, per-record rejection, strict
sequencing per run and idempotent replays are the same code. What differs is the framing, the failure
scope and how commits are grouped:
- the key is checked once for the stream (and again every REVERIFY_S seconds: a revoked key ends it);
  write access is checked per run, when it opens and again before a write once REVERIFY_S has passed;
- a run that cannot be written (no write access, a bad OpenRun, resume='never' on an existing run, a
  sequence gap) is refused alone with BulkReply.refused; the other runs of the stream go on;
- the database away (UNAVAILABLE), a bug (INTERNAL), a bad key or a malformed message end the stream.

Group commit: a short run written on its own costs a few commits (a WAL flush each). Here the requests
waiting in a lane are applied together in ONE transaction, without savepoints (open_run and write_batch
with own_transaction=False), and every reply of the group is sent after that one commit, so an
acknowledgement still means durable. When anything in the group raises (a run refused, a value PostgreSQL
refuses, a deadlock between two streams creating runs in the same projects in different orders), the
group is rolled back, the runs' in-memory state restored, and its requests applied again one by one,
each exactly as a Stream applies it (its own transactions): the refusal stays with its run, a record
PostgreSQL refuses is isolated and rejected alone, and the other runs are written.

Refs are spread over LANES lanes (one pooled connection each while a group is written); the requests of
one ref all go to its lane, in arrival order. The reader stops taking requests while MAX_PENDING requests
or MAX_PENDING_BYTES are unanswered, so a fast client cannot fill the server's memory.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from runyard_proto.v1 import ingest_pb2 as pb

from ..common.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RunyardError,
    domain_error,
    grpc_code_name,
)
from ..common.logs import logger
from ..common.verifier import Principal, entity_id_for_write
from . import metrics, writer
from .live import LivePublisher

log = logger("ingest.bulk")

# groups of one stream written at once. One: two lanes creating runs in one project wait on its row lock
# for each other's whole group (measured: 1 lane 153 runs/s, 2 lanes 68-85 runs/s, same load)
LANES = 1
GROUP_REQUESTS = 256      # requests applied in one transaction at most
GROUP_RECORDS = 20_000    # ... and records
MAX_PENDING = 1024        # requests taken from the stream and not answered yet
MAX_PENDING_BYTES = 64 << 20
MAX_OPEN_REFS = 10_000    # refs open at once in one stream
# the codes that refuse one run; any other error ends the stream
RUN_CODES = frozenset({"permission_denied", "not_found", "already_exists", "invalid_argument",
                       "failed_precondition", "resource_exhausted"})


@dataclass
class _Ref:
    ref: int
    lane: _Lane
    run: writer.OpenedRun | None = None
    verified: float = 0.0
    queued: int = 0  # requests of this ref taken from the stream and not applied yet


@dataclass
class _Lane:
    queue: asyncio.Queue[tuple[_Ref, pb.BulkRequest, int] | None] = field(default_factory=asyncio.Queue)
    load: int = 0  # requests queued


class BulkSession:
    """One Bulk call: reads requests, applies them per lane in groups, yields replies (`replies()`)."""

    def __init__(self, pool: asyncpg.Pool, limits: writer.Limits, live: LivePublisher, who: Principal,
                 schedule_compaction: Callable[[writer.OpenedRun], None],
                 reverify: Callable[[], Awaitable[Principal]], reverify_s: float) -> None:
        self.pool = pool
        self.limits = limits
        self.live = live
        self.who = who
        self.schedule_compaction = schedule_compaction
        self.reverify = reverify
        self.reverify_s = reverify_s
        self.refs: dict[int, _Ref] = {}
        self.lanes = [_Lane() for _ in range(LANES)]
        self.out: asyncio.Queue[pb.BulkReply | BaseException | None] = asyncio.Queue()
        self.room = asyncio.Condition()
        self.pending = 0
        self.pending_bytes = 0
        self.verified = time.monotonic()
        self.runs_opened = 0

    async def replies(self, requests: AsyncIterator[pb.BulkRequest]) -> AsyncIterator[pb.BulkReply]:
        tasks = [asyncio.create_task(self._lane(lane)) for lane in self.lanes]
        reader = asyncio.create_task(self._read(requests, tasks))
        try:
            while True:
                item = await self.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            reader.cancel()
            for t in tasks:
                t.cancel()

    # ------------------------------------------------------------------ reading
    async def _read(self, requests: AsyncIterator[pb.BulkRequest], lanes: list[asyncio.Task[None]]) -> None:
        try:
            async for req in requests:
                if time.monotonic() - self.verified > self.reverify_s:
                    self.who = await self.reverify()
                    self.verified = time.monotonic()
                size = req.ByteSize()
                async with self.room:
                    await self.room.wait_for(lambda size=size: self.pending < MAX_PENDING and (  # type: ignore[misc]
                        self.pending_bytes + size <= MAX_PENDING_BYTES or self.pending == 0))
                    self.pending += 1
                    self.pending_bytes += size
                r = self.refs.get(req.ref)
                if r is None:
                    if len(self.refs) >= MAX_OPEN_REFS:
                        raise ResourceExhausted(f"more than {MAX_OPEN_REFS:,} runs open at once in one Bulk "
                                                "stream; close some (BulkRequest.close) before opening more")
                    lane = min(self.lanes, key=lambda la: la.load)
                    r = self.refs[req.ref] = _Ref(req.ref, lane)
                r.queued += 1
                r.lane.load += 1
                r.lane.queue.put_nowait((r, req, size))
            for lane in self.lanes:  # end of the stream: each lane finishes what it has
                lane.queue.put_nowait(None)
            await asyncio.gather(*lanes)
            self.out.put_nowait(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.out.put_nowait(exc)

    # ------------------------------------------------------------------ applying
    async def _lane(self, lane: _Lane) -> None:
        ended = False
        try:
            while not ended:
                first = await lane.queue.get()
                if first is None:
                    return
                group = [first]
                records = len(first[1].records)
                while not lane.queue.empty() and len(group) < GROUP_REQUESTS and records < GROUP_RECORDS:
                    item = lane.queue.get_nowait()
                    if item is None:
                        ended = True
                        break
                    group.append(item)
                    records += len(item[1].records)
                lane.load -= len(group)
                await self._group(group)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.out.put_nowait(exc)

    async def _group(self, group: list[tuple[_Ref, pb.BulkRequest, int]]) -> None:
        replies, after = await self._apply_all(group)
        for run, finished in after:  # committed: now others may see it
            self.live.run_changed(run)
            if finished or run.needs_compaction():
                self.schedule_compaction(run)
        released = 0
        for (r, _, size), reply in zip(group, replies, strict=True):
            r.queued -= 1
            if reply.done and r.queued == 0 and self.refs.get(r.ref) is r:
                del self.refs[r.ref]
            released += size
            self.out.put_nowait(reply)
        async with self.room:
            self.pending -= len(group)
            self.pending_bytes -= released
            self.room.notify_all()

    async def _apply_all(self, group: list[tuple[_Ref, pb.BulkRequest, int]],
                         ) -> tuple[list[pb.BulkReply], list[tuple[writer.OpenedRun, bool]]]:
        """Apply the group; (replies, (run, finished) for each write), all committed.

        First all in one transaction, with no savepoints (the common case: nothing is refused). Anything
        raised there rolls the whole group back; the runs' in-memory state is restored and the requests
        are applied again one by one, each exactly as a Stream applies it (its own transactions), where
        a refusal stays with its run and a record PostgreSQL refuses is isolated."""
        if len(group) > 1:
            refs = list({id(r): r for r, _, _ in group}.values())
            saved = [(r, r.run, _snapshot(r.run), r.verified) for r in refs]
            opened = self.runs_opened
            try:
                replies: list[pb.BulkReply] = []
                after: list[tuple[writer.OpenedRun, bool]] = []
                async with self.pool.acquire() as conn, conn.transaction():
                    for r, req, _ in group:
                        reply, wrote = await self._apply(conn, r, req, grouped=True)
                        replies.append(reply)
                        if wrote is not None:
                            after.append(wrote)
                metrics.BULK_GROUPS.labels("committed").inc()
                return replies, after
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.BULK_GROUPS.labels("split").inc()
                log.info("a bulk group of %d requests is applied one by one (%s: %s)", len(group),
                         type(exc).__name__, str(exc)[:300])
                self.runs_opened = opened
                for r, run, snap, verified in saved:
                    r.run, r.verified = run, verified
                    if run is not None and snap is not None:
                        run.__dict__.update(snap.__dict__)
        replies, after = [], []
        async with self.pool.acquire() as conn:
            for r, req, _ in group:
                try:
                    reply, wrote = await self._apply(conn, r, req, grouped=False)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = domain_error(exc)
                    if err is None or err.code not in RUN_CODES:
                        raise
                    reply, wrote = self._refused(r, err), None
                replies.append(reply)
                if wrote is not None:
                    after.append(wrote)
        return replies, after

    def _refused(self, r: _Ref, err: RunyardError) -> pb.BulkReply:
        r.run = None
        metrics.ERRORS.labels(err.code).inc()
        log.info("bulk ref %d refused: %s %s", r.ref, err.code, err.message[:300])
        return pb.BulkReply(ref=r.ref, refused=pb.RunRefused(code=grpc_code_name(err), message=err.message),
                            done=True)

    async def _apply(self, conn: asyncpg.Connection, r: _Ref, req: pb.BulkRequest, *, grouped: bool,
                     ) -> tuple[pb.BulkReply, tuple[writer.OpenedRun, bool] | None]:
        """One request. `grouped`: inside the group's transaction (writer functions open none of their own)."""
        reply = pb.BulkReply(ref=r.ref)
        wrote = None
        if req.HasField("open"):
            if r.run is not None:
                raise FailedPrecondition(f"ref {r.ref} already has a run open in this stream "
                                         f"({r.run.entity}/{r.run.project}/{r.run.run_id}); close it first")
            new = await writer.open_run(conn, self.who, req.open, self.limits, own_transaction=not grouped)
            r.run, r.verified = new, time.monotonic()
            self.runs_opened += 1
            metrics.BULK_RUNS.inc()
            reply.opened.CopyFrom(new.opened())
        run = r.run
        if run is None:
            raise FailedPrecondition(f"ref {r.ref} has no run open in this stream: its first request "
                                     "needs BulkRequest.open")
        if req.records:
            if time.monotonic() - r.verified > self.reverify_s:
                await self._recheck(conn, run)
                r.verified = time.monotonic()
            started = time.perf_counter()
            result = await writer.write_batch(conn, run, list(req.records), self.limits,
                                              own_transaction=not grouped)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.RECORDS.labels("ok").inc(result.stored)
            if result.rejected:
                metrics.RECORDS.labels("rejected").inc(len(result.rejected))
            wrote = (run, result.finished)
            reply.ack.CopyFrom(pb.Ack(
                seq=result.seq,
                rejected=[pb.Rejected(seq=seq, reason=reason, channel=channel)
                          for seq, reason, channel in result.rejected],
                channel_seqs=result.channels))
        if req.close:
            reply.done = True
            r.run = None
        return reply, wrote

    async def _recheck(self, conn: asyncpg.Connection, run: writer.OpenedRun) -> None:
        """The stream's user may still write to the run's entity (a member removed from the team or made
        a viewer stops writing here within REVERIFY_S)."""
        try:
            await entity_id_for_write(conn, self.who, run.entity)
        except (PermissionDenied, NotFound) as err:
            raise PermissionDenied(
                f"you may no longer write to {run.entity}/{run.project}: {err.message}") from None


def _snapshot(run: writer.OpenedRun | None) -> writer.OpenedRun | None:
    """A copy of the run's in-memory state (its dicts too), to restore when a group rolls back."""
    if run is None:
        return None
    snap = copy.copy(run)
    snap.key_ids = dict(run.key_ids)
    snap.channel_seqs = dict(run.channel_seqs)
    return snap
