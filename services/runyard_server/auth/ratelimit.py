"""Login throttling: slow a password guesser down without ever locking the owner out.

Two counters of attempts, counted before the password is checked (so parallel guesses cannot slip
through together) and remembered for `RUNYARD_LOGIN_RATE_WINDOW_S` after the last one:

- **per client address** (the address the hardening middleware settled on; forwarded headers count only
  from trusted proxies): past `RUNYARD_LOGIN_RATE_PER_ADDRESS` attempts every login from that address
  answers 429 until the window ends. A success gives its attempt back, so many people behind one NAT may
  log in.
- **per account** (also for names that do not exist, so a 429 says nothing about which accounts exist):
  the first `RUNYARD_LOGIN_RATE_PER_USER` attempts since the last success are free; after them each try
  must wait for its slot,
  1 s, 2 s, 4 s, ... up to `RUNYARD_LOGIN_MAX_DELAY_S` after the one before (a try before its slot is
  429 with Retry-After, and its password is not even checked). A guesser gets a few tries a minute,
  spread over however many addresses it has.

A browser that signed in to the account before carries a device cookie (auth/device.py) and skips the
per-account wait, so the owner logs in at once even while someone hammers the account; only
`RUNYARD_LOGIN_RATE_PER_USER` failures with that cookie are allowed before it stops helping. A success
clears the account's counter. Nobody is ever refused the right password for longer than the wait.

Counters live in Redis (shared by every replica); without Redis (none configured, or failing) a
per-process counter takes over: weaker with several replicas, never open.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from ..common.errors import TooManyRequests
from ..common.names import LOGIN_RATELIMIT_PREFIX

log = logging.getLogger(__name__)
_PREFIX = LOGIN_RATELIMIT_PREFIX


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused before its password was checked."""

    by: str  # "address" or "account"
    retry_after: int
    first: bool  # the first refusal of this kind in the window (audit it once, not per attempt)


def delay_for(failures: int, free: int, max_delay: int) -> float:
    """Seconds between two tries of an account after `failures` failed ones: 0 for the first `free`."""
    if failures < free:
        return 0.0
    return float(min(max_delay, 2 ** min(failures - free, 30)))


class LoginLimiter:
    def __init__(self, redis_url: str, per_user: int, per_address: int, window_s: int,
                 max_delay_s: int = 30) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._local: dict[str, tuple[float, float]] = {}  # key -> (value, expires at, monotonic)

    # ---- keys
    @staticmethod
    def _h(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _user(self, username: str) -> str:
        return _PREFIX + "user:" + self._h(username)

    def _slot(self, username: str) -> str:
        return _PREFIX + "slot:" + self._h(username)

    def _device(self, device: str) -> str:
        return _PREFIX + "device:" + self._h(device)

    @staticmethod
    def _address(address: str) -> str:
        return _PREFIX + "addr:" + address

    @staticmethod
    def _flag(key: str) -> str:
        return key + ":refused"

    # ---- the three calls of a login
    async def check(self, username: str, address: str, device: str | None = None) -> None:
        """Before the password is checked: TooManyRequests (with `.refusal`) when this attempt must wait.
        `device` is the caller's valid device cookie for this account, if any.

        Attempts are counted here, before the (slow) password check, so parallel guesses cannot slip
        through together; `success` takes the attempt back from the address and clears the account."""
        if await self._incr(self._address(address)) > self.per_address:
            raise self._refuse(Refusal("address", await self._ttl(self._address(address)),
                                       await self._first(self._address(address))))
        if device is not None and await self._get(self._device(device)) < self.per_user:
            return  # the owner's browser: no wait
        before = await self._incr(self._user(username)) - 1
        delay = delay_for(before, self.per_user, self.max_delay_s)
        if delay and not await self._take_slot(self._slot(username), delay):
            wait = max(1, math.ceil(await self._pttl(self._slot(username)) / 1000))
            raise self._refuse(Refusal("account", wait, await self._first(self._user(username))))

    async def failure(self, device: str | None = None) -> None:
        """A checked attempt failed (the address and account counted it already; the device counts here)."""
        if device is not None:
            await self._incr(self._device(device))

    async def success(self, username: str, address: str, device: str | None = None) -> None:
        """The right password: the account starts afresh and the address gets its attempt back."""
        keys = [self._user(username), self._slot(username), self._flag(self._user(username))]
        if device is not None:
            keys.append(self._device(device))
        for key in keys:
            self._local.pop(key, None)
        addr = self._address(address)
        if self._redis is not None:
            try:
                await self._redis.delete(*keys)
                if int(await self._redis.decr(addr)) < 0:
                    await self._redis.delete(addr)
                return
            except Exception as exc:
                log.warning("login limiter: reset failed: %s", exc)
        entry = self._local_get(addr)
        if entry is not None:
            self._local[addr] = (max(0.0, entry[0] - 1), entry[1])

    # ---- helpers
    def _refuse(self, refusal: Refusal) -> TooManyRequests:
        what = "this address" if refusal.by == "address" else "this account"
        exc = TooManyRequests(f"too many failed logins from {what}; try again in {refusal.retry_after} seconds",
                              retry_after=refusal.retry_after)
        exc.refusal = refusal  # type: ignore[attr-defined]
        return exc

    async def _first(self, key: str) -> bool:
        """True once per window per counter: the first refusal is audited, the flood after it is not."""
        flag = self._flag(key)
        if self._redis is not None:
            try:
                return bool(await self._redis.set(flag, 1, ex=self.window_s, nx=True))
            except Exception as exc:
                log.warning("login limiter: Redis failed (%s); counting in this process", exc)
        if self._local_get(flag) is not None:
            return False
        self._local_set(flag, 1.0, self.window_s)
        return True

    async def _get(self, key: str) -> float:
        if self._redis is not None:
            try:
                value = await self._redis.get(key)
                return float(value or 0)
            except Exception as exc:
                log.warning("login limiter: Redis failed (%s); counting in this process", exc)
        entry = self._local_get(key)
        return entry[0] if entry else 0.0

    async def _incr(self, key: str) -> int:
        """Add one failure; the counter lives `window_s` after its last failure."""
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, self.window_s)
                    count, _ = await pipe.execute()
                return int(count)
            except Exception as exc:
                log.warning("login limiter: Redis failed (%s); counting in this process", exc)
        entry = self._local_get(key)
        count = (entry[0] if entry else 0.0) + 1
        self._local_set(key, count, self.window_s)
        return int(count)

    async def _take_slot(self, key: str, delay: float) -> bool:
        """Atomically claim the next try of an account: only one per `delay` seconds gets through."""
        ms = max(1, int(delay * 1000))
        if self._redis is not None:
            try:
                return bool(await self._redis.set(key, 1, px=ms, nx=True))
            except Exception as exc:
                log.warning("login limiter: Redis failed (%s); counting in this process", exc)
        if self._local_get(key) is not None:
            return False
        self._local_set(key, 1.0, delay)
        return True

    async def _ttl(self, key: str) -> int:
        return max(1, math.ceil(await self._pttl(key) / 1000))

    async def _pttl(self, key: str) -> int:
        if self._redis is not None:
            try:
                return max(1, int(await self._redis.pttl(key)))
            except Exception as exc:
                log.warning("login limiter: Redis failed (%s); counting in this process", exc)
        entry = self._local_get(key)
        return max(1, int(((entry[1] if entry else time.monotonic()) - time.monotonic()) * 1000))

    def _local_get(self, key: str) -> tuple[float, float] | None:
        entry = self._local.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            self._local.pop(key, None)
            return None
        return entry

    def _local_set(self, key: str, value: float, ttl: float) -> None:
        now = time.monotonic()
        self._local[key] = (value, now + ttl)
        if len(self._local) > 100_000:  # bound memory: drop what expired
            self._local = {k: v for k, v in self._local.items() if v[1] > now}

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
