"""A short-lived Redis cache of verified API keys; PostgreSQL stays the truth.

Entries are keyed by the key's SHA-256 (what `api_keys.key_hash` stores, so the auth service can
invalidate an entry without knowing the key) and live `ttl` seconds (at most 4.5 s, see settings).
Revoking a key, disabling a user or changing who is admin deletes the entries at once; should that
invalidation be lost (Redis away at that moment), the entry still dies within the TTL, so a revoked key
stops working within 5 seconds in every HTTP service. Any Redis failure falls back to PostgreSQL.

A hung or dead Redis costs one timeout (0.25 s), not one per request: the first failure opens a circuit
breaker (common/breaker.py) and the cache is skipped until a background PING answers again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from .breaker import Breaker
from .names import APIKEY_CACHE_PREFIX

log = logging.getLogger(__name__)
_PREFIX = APIKEY_CACHE_PREFIX
TIMEOUT_S = 0.25


class KeyCache:
    def __init__(self, redis_url: str, ttl_s: float) -> None:
        self.ttl_ms = int(ttl_s * 1000)
        self._redis: Any = None
        if redis_url and self.ttl_ms > 0:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        self.breaker = Breaker("Redis (API-key cache)", self._ping, log=log)

    async def _ping(self) -> None:
        await self._redis.ping()

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    async def get(self, key_hash: bytes) -> dict[str, Any] | None:
        if self._redis is None or not self.breaker.allowed:
            return None
        try:
            raw = await self._redis.get(_PREFIX + key_hash.hex())
        except Exception as exc:  # Redis is an optimisation: fall back to PostgreSQL
            self.breaker.failure(exc)
            return None
        self.breaker.success()
        return json.loads(raw) if raw else None

    async def put(self, key_hash: bytes, value: dict[str, Any]) -> None:
        if self._redis is None or not self.breaker.allowed:
            return
        try:
            await self._redis.set(_PREFIX + key_hash.hex(), json.dumps(value), px=self.ttl_ms)
        except Exception as exc:
            self.breaker.failure(exc)

    async def invalidate(self, key_hashes: Iterable[bytes]) -> None:
        names = [_PREFIX + bytes(h).hex() for h in key_hashes]
        if self._redis is None or not names:
            return
        try:
            await self._redis.delete(*names)
        except Exception as exc:
            log.warning("key cache invalidation failed (entries expire by themselves): %s", exc)

    async def close(self) -> None:
        await self.breaker.close()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
