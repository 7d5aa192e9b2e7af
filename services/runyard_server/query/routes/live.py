"""Live updates over Server-Sent Events, fed by the ingest service's Redis publishes.

One Redis pub/sub connection per process (`LiveHub`), shared by every open stream: a project's channel
(`runyard:project:{pk}`) is subscribed while at least one browser watches it. Each stream gets:

    retry: 2000
    event: hello        data: {"live": true}
    event: run          data: {"run_id", "project", "entity", "next_step"}   (one per committed batch)
    : ping                                                                   (every 15 s)

Without Redis (not configured, unreachable, or lost mid-stream) a stream sends `retry: 30000`, then
`event: hello` with `{"live": false}` and ends: the browser polls instead and tries SSE again later.
A Redis that hangs (accepts connections, answers nothing) counts as lost: the hub PINGs its pub/sub
connection every PING_EVERY_S and gives up when nothing at all came back for DEAD_AFTER_S, so no stream
stays "live" but silent. After a failure a circuit breaker answers "not live" at once until a
background PING answers again (common/breaker.py): a hung Redis never holds a request.
A stream also ends after `MAX_STREAM_S` (the browser reconnects at once), so no connection outlives a
deploy by much.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ...common.breaker import Breaker
from ...common.errors import RunyardError
from ...common.logs import logger
from ...common.names import project_channel
from ...common.verifier import SESSION_COOKIE, authenticate_request, project_for_read
from ..deps import PoolDep, PrincipalDep
from ..metrics import SSE_CONNECTIONS, SSE_EVENTS
from ..schemas import ERROR_RESPONSES

log = logger("query.live")
router = APIRouter(tags=["live"], responses=ERROR_RESPONSES)

HEARTBEAT_S = 15.0
MAX_STREAM_S = 600.0
RECHECK_S = 3.0  # how often an open stream re-checks that its caller may still read the project
QUEUE_MAX = 256
PING_EVERY_S = 2.0     # the reader PINGs the pub/sub connection this often
DEAD_AFTER_S = 6.0     # nothing (no message, no PONG) for this long: Redis is lost
CONNECT_TIMEOUT_S = 1.0
_LOST = object()  # queue sentinel: Redis went away


class LiveHub:
    """Fans one Redis pub/sub connection out to many asyncio queues (one per SSE stream)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._subs: dict[str, set[asyncio.Queue[Any]]] = {}
        self._lock = asyncio.Lock()
        # after a failure, answer "not live" at once until a background PING succeeds
        self.breaker = Breaker("Redis (live pub/sub)", self._probe, log=log)

    @property
    def channels(self) -> int:
        return len(self._subs)

    async def _probe(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                   socket_timeout=CONNECT_TIMEOUT_S)
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def _connect(self) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        await asyncio.wait_for(self._redis.ping(), timeout=CONNECT_TIMEOUT_S)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._reader = asyncio.create_task(self._read(), name="runyard-live-reader")

    async def subscribe(self, channel: str) -> asyncio.Queue[Any] | None:
        """A queue receiving the channel's messages, or None when Redis is not available."""
        if not self.redis_url or not self.breaker.allowed:
            return None
        async with self._lock:
            try:
                if self._pubsub is None:
                    await self._connect()
                queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_MAX)
                if channel not in self._subs:
                    # an idle hub does not notice a Redis that died meanwhile: ask before saying "live"
                    await asyncio.wait_for(self._redis.ping(), timeout=CONNECT_TIMEOUT_S)
                    await asyncio.wait_for(self._pubsub.subscribe(channel), timeout=CONNECT_TIMEOUT_S)
                    self._subs[channel] = set()
                self._subs[channel].add(queue)
                return queue
            except Exception as exc:
                self.breaker.failure(exc)  # logs once: "unavailable ..., skipping it"
                await self._reset_locked()
                return None

    async def unsubscribe(self, channel: str, queue: asyncio.Queue[Any]) -> None:
        async with self._lock:
            subs = self._subs.get(channel)
            if subs is None:
                return
            subs.discard(queue)
            if not subs:
                del self._subs[channel]
                if self._pubsub is not None:
                    try:
                        await asyncio.wait_for(self._pubsub.unsubscribe(channel), timeout=3)
                    except Exception:
                        pass

    async def _read(self) -> None:
        last_seen = next_ping = time.monotonic()
        try:
            while True:
                if not self._subs:
                    await asyncio.sleep(0.2)
                    last_seen = next_ping = time.monotonic()
                    continue
                now = time.monotonic()
                if now - last_seen > DEAD_AFTER_S:
                    raise ConnectionError(f"no answer from Redis for {now - last_seen:.0f} s (hung?)")
                if now >= next_ping:
                    next_ping = now + PING_EVERY_S
                    await asyncio.wait_for(self._pubsub.ping(b"runyard-live"), timeout=CONNECT_TIMEOUT_S)
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg:
                    last_seen = time.monotonic()
                if not msg or msg.get("type") != "message":
                    continue
                channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                data = msg["data"].decode() if isinstance(msg["data"], bytes) else str(msg["data"])
                for q in list(self._subs.get(channel, ())):
                    try:
                        q.put_nowait(data)
                    except asyncio.QueueFull:  # a slow browser: it refreshes everything on the next event
                        pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live: lost Redis (%s); open streams end and browsers fall back to polling", exc)
            self.breaker.failure(exc)
            async with self._lock:
                self._reader = None  # this task is ending; do not cancel it from _reset_locked
                await self._reset_locked()

    async def _reset_locked(self) -> None:
        for subs in self._subs.values():
            for q in subs:
                try:
                    q.put_nowait(_LOST)
                except asyncio.QueueFull:
                    q.get_nowait()
                    q.put_nowait(_LOST)
        self._subs.clear()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        pubsub, self._pubsub = self._pubsub, None
        redis, self._redis = self._redis, None
        for closer in (getattr(pubsub, "aclose", None), getattr(redis, "aclose", None)):
            if closer is not None:
                try:
                    await asyncio.wait_for(closer(), timeout=2)
                except Exception:
                    pass

    async def close(self) -> None:
        await self.breaker.close()
        async with self._lock:
            await self._reset_locked()


def hub_of(request: Request) -> LiveHub:
    app = request.app
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = LiveHub(app.state.settings.redis_url)
        app.state.live_hub = hub
    return hub


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def event_stream(hub: LiveHub, channel: str, request: Request,
                       still_allowed: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[str]:
    """The SSE body. `still_allowed` is asked every RECHECK_S: a revoked key, an ended session or a lost
    membership ends the stream within 5 s (the browser's reconnect then gets the 401/404)."""
    queue = await hub.subscribe(channel)
    if queue is None:
        yield "retry: 30000\n\n"
        yield sse("hello", {"live": False})
        return
    SSE_CONNECTIONS.inc()
    try:
        yield "retry: 2000\n\n"
        yield sse("hello", {"live": True})
        now = time.monotonic()
        deadline, next_ping, next_check = now + MAX_STREAM_S, now + HEARTBEAT_S, now + RECHECK_S
        while now < deadline:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=max(0.0, min(next_ping, next_check) - now))
            except asyncio.TimeoutError:
                item = None
            now = time.monotonic()
            if still_allowed is not None and now >= next_check:
                next_check = now + RECHECK_S
                if not await still_allowed():
                    yield sse("denied", {"live": False})
                    return
            if item is None:
                if now >= next_ping:
                    next_ping = now + HEARTBEAT_S
                    if await request.is_disconnected():
                        return
                    yield ": ping\n\n"
                continue
            if item is _LOST:
                yield "retry: 30000\n\n"
                yield sse("hello", {"live": False})
                return
            SSE_EVENTS.inc()
            yield f"event: run\ndata: {item}\n\n"
    finally:
        SSE_CONNECTIONS.dec()
        await hub.unsubscribe(channel, queue)


@router.get("/api/v1/projects/{entity}/{project}/events", include_in_schema=False)
async def project_events(
    entity: str, project: str, who: PrincipalDep, pool: PoolDep, request: Request
) -> StreamingResponse:
    """text/event-stream of the project's run changes (see the module docstring)."""
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)

    async def still_allowed() -> bool:
        try:
            async with pool.acquire() as conn:
                fresh = await authenticate_request(
                    conn, method="GET", authorization=request.headers.get("authorization"),
                    session_token=request.cookies.get(SESSION_COOKIE), csrf_cookie=None, csrf_header=None,
                )
                await project_for_read(conn, fresh, entity, project)
        except RunyardError:
            return False
        return True

    hub = hub_of(request)
    return StreamingResponse(
        event_stream(hub, project_channel(p["id"]), request, still_allowed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )
