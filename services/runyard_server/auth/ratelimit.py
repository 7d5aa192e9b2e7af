"""Login rate limits per username and per client address: fixed windows counted in Redis.

Per username every attempt counts (so parallel guesses cannot slip through) and a successful login
clears the counter; per address only failed attempts count (many people behind one NAT may log in). Usernames that do not exist are counted like real ones, so a 429 says nothing
about whether an account exists. Without Redis (no RUNYARD_REDIS_URL, or Redis failing) a per-process
counter takes over: weaker with several replicas, never open.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from ..common.errors import TooManyRequests
from ..common.names import LOGIN_RATELIMIT_PREFIX

log = logging.getLogger(__name__)
_PREFIX = LOGIN_RATELIMIT_PREFIX


class LoginLimiter:
    def __init__(self, redis_url: str, per_user: int, per_address: int, window_s: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._local: dict[str, tuple[int, float]] = {}

    @staticmethod
    def _user_key(username: str) -> str:
        return _PREFIX + "user:" + hashlib.sha256(username.encode()).hexdigest()[:32]

    @staticmethod
    def _address_key(address: str) -> str:
        return _PREFIX + "addr:" + address

    async def hit(self, username: str, address: str) -> None:
        """Count one attempt; TooManyRequests when the user's or the address' counter is over its limit."""
        for key, limit, step in ((self._user_key(username), self.per_user, 1),
                                 (self._address_key(address), self.per_address, 0)):
            count, ttl = await self._incr(key, step)
            if count > limit - (1 - step):  # the address counter holds failures so far, not this attempt
                exc = TooManyRequests(f"too many login attempts; try again in {ttl} seconds", retry_after=ttl)
                # the first refusal of a window (for the audit log: one event per window, not per attempt)
                exc.first_in_window = step == 1 and count == limit + 1  # type: ignore[attr-defined]
                raise exc

    async def failure(self, address: str) -> bool:
        """Count a failed attempt of the address; True when this one reached the limit (audit it once)."""
        count, _ = await self._incr(self._address_key(address), 1)
        return count == self.per_address

    async def success(self, username: str) -> None:
        key = self._user_key(username)
        self._local.pop(key, None)
        if self._redis is not None:
            try:
                await self._redis.delete(key)
            except Exception as exc:
                log.warning("rate limit reset failed: %s", exc)

    async def _incr(self, key: str, step: int) -> tuple[int, int]:
        """Add `step` (0 reads) to the window's counter; (count, seconds left in the window)."""
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(key, 0, ex=self.window_s, nx=True)  # opens a window (works on Redis 6)
                    pipe.incrby(key, step)
                    pipe.ttl(key)
                    _, count, ttl = await pipe.execute()
                return int(count), max(1, int(ttl))
            except Exception as exc:
                log.warning("rate limiter: Redis failed (%s); counting in this process", exc)
        now = time.monotonic()
        count, until = self._local.get(key, (0, now + self.window_s))
        if until <= now:
            count, until = 0, now + self.window_s
        self._local[key] = (count + step, until)
        if len(self._local) > 100_000:  # bound memory: drop expired windows
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
        return count + step, max(1, int(until - now))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
