"""Live fan-out: after a commit, tell Redis subscribers that a run changed.

Redis holds nothing that cannot be rebuilt: a publish that fails is logged and dropped, never retried
inline, and never slows the stream (publishes are fire-and-forget tasks, at most one in flight per run).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

from ..common.names import project_channel

if TYPE_CHECKING:
    from .writer import OpenedRun

log = logging.getLogger("runyard.ingest.live")


class LivePublisher:
    def __init__(self, redis_url: str) -> None:
        self._redis = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_error = 0.0

    def run_changed(self, run: OpenedRun) -> None:
        if self._redis is None or run.pk in self._inflight:
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
            assert self._redis is not None
            await self._redis.publish(channel, payload)
        except Exception as exc:  # Redis away: live views fall back to reading PostgreSQL
            if time.monotonic() - self._last_error > 30:
                log.warning("live publish to Redis failed: %s", exc)
                self._last_error = time.monotonic()
        finally:
            self._inflight.discard(run_pk)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()
