"""Live fan-out: after a commit, tell Redis subscribers that a run changed.

Redis holds nothing that cannot be rebuilt: a publish that fails is logged and dropped, never retried
inline, and never slows the stream (publishes are fire-and-forget tasks, at most one in flight per run).
After a failure a circuit breaker skips Redis until a background PING answers (common/breaker.py), so
a hung Redis holds no task for its timeout per batch.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from ..common.breaker import Breaker
from ..common.logs import logger
from ..common.names import project_channel

if TYPE_CHECKING:
    from .writer import OpenedRun

log = logger("ingest.live")


class LivePublisher:
    def __init__(self, redis_url: str) -> None:
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.breaker = Breaker("Redis (live updates)", self._ping, log=log)

    async def _ping(self) -> None:
        await self._redis.ping()

    def run_changed(self, run: OpenedRun) -> None:
        if self._redis is None or run.pk in self._inflight or not self.breaker.allowed:
            return
        self._inflight.add(run.pk)
        payload = json.dumps(
            {"run_id": run.run_id, "project": run.project, "entity": run.entity, "next_step": run.next_step}
        )
        task = asyncio.create_task(self._publish(run.pk, project_channel(run.project_pk), payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, run_pk: int, channel: str, payload: str) -> None:
        try:
            await self._redis.publish(channel, payload)
        except Exception as exc:  # Redis away: live views fall back to reading PostgreSQL
            if not self.breaker.is_open:
                log.warning("Redis publish failed (live views fall back to polling): %s: %s",
                            type(exc).__name__, exc)
            self.breaker.failure(exc)
        else:
            self.breaker.success()
        finally:
            self._inflight.discard(run_pk)

    async def close(self) -> None:
        await self.breaker.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()
