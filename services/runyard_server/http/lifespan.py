"""The lifespan of an HTTP service: the asyncpg pool and the API-key cache, closed on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from ..common.db import create_pool
from ..common.keycache import KeyCache
from ..common.settings import Settings
from . import metrics_port

log = logging.getLogger(__name__)


def service_lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Opens `app.state.pool` and `app.state.key_cache` (and the metrics port, when set); closes them
    (the pool bounded by the grace period)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min,
                                 max_size=settings.db_pool_max)
        cache = KeyCache(settings.redis_url, settings.key_cache_ttl_s)
        app.state.pool = pool
        app.state.key_cache = cache
        metrics_port.acquire(settings.http_host, settings.metrics_port)
        try:
            yield
        finally:
            metrics_port.release(settings.http_host, settings.metrics_port)
            await cache.close()
            try:
                await asyncio.wait_for(pool.close(), timeout=settings.shutdown_grace_s or 1.0)
            except asyncio.TimeoutError:
                log.warning("database pool did not close in time; terminating its connections")
                pool.terminate()

    return lifespan
