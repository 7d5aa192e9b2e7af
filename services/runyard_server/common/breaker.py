"""A circuit breaker for optional dependencies (Redis): a hung or dead one costs one timeout, not one
per request.

    closed --(a call fails or times out)--> open --(cooldown over)--> probing --(probe ok)--> closed
                                             ^                            |
                                             +-------(probe fails)--------+

While open or probing, `allowed` is False and callers skip the dependency at once (a cache miss, a
"not live" answer). The probe runs in a background task of its own, so no request ever waits for it;
the breaker logs once when it opens and once when the dependency is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["Breaker"]


class Breaker:
    def __init__(self, name: str, probe: Callable[[], Awaitable[object]], *, cooldown_s: float = 5.0,
                 probe_timeout_s: float = 1.0, log: logging.Logger | None = None) -> None:
        self.name = name
        self._probe = probe
        self.cooldown_s = cooldown_s
        self.probe_timeout_s = probe_timeout_s
        self._log = log or logging.getLogger("runyard_server.breaker")
        self._open_until = 0.0
        self._open = False
        self._probing: asyncio.Task[None] | None = None
        self.opened = 0  # how many times it opened (tests and metrics read it)

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def allowed(self) -> bool:
        """True when callers may use the dependency now; starts the background probe when due."""
        if not self._open:
            return True
        if time.monotonic() >= self._open_until and self._probing is None:
            try:
                self._probing = asyncio.get_running_loop().create_task(self._run_probe())
            except RuntimeError:  # no loop (called from sync code): try again on the next call
                pass
        return False

    def success(self) -> None:
        if self._open:
            self._close()

    def failure(self, exc: BaseException) -> None:
        """A call failed: open (or stay open) for one cooldown."""
        self._open_until = time.monotonic() + self.cooldown_s
        if not self._open:
            self._open = True
            self.opened += 1
            self._log.warning("%s unavailable (%s): skipping it for %.0f s at a time until it answers again",
                              self.name, _describe(exc), self.cooldown_s)

    def _close(self) -> None:
        self._open = False
        self._log.warning("%s is back", self.name)

    async def _run_probe(self) -> None:
        try:
            await asyncio.wait_for(self._probe(), timeout=self.probe_timeout_s)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # still away
            self._open_until = time.monotonic() + self.cooldown_s
            self._log.debug("%s probe failed: %s", self.name, _describe(exc))
        else:
            self._close()
        finally:
            self._probing = None

    async def close(self) -> None:
        task, self._probing = self._probing, None
        if task is not None:
            task.cancel()
            try:
                await task
            except BaseException:
                pass


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
