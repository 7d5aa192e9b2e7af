"""What every handler needs, built once by the startup handler and kept in kopf's memo."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..config import OperatorConfig
from ..kube import KubeClient

__all__ = ["Context"]


@dataclass
class Context:
    config: OperatorConfig
    client: KubeClient
    # (namespace, name) of instances whose change handler has not finished (still retrying): the timer
    # leaves those to it
    pending: set[tuple[str, str]] = field(default_factory=set)
    # (namespace, name) -> {(kind, object name): digest of what was last applied}: a change handler
    # retrying while a migration or rollout progresses skips what it applied already; the timer re-applies
    # everything (drift correction) and refreshes this
    applied: dict[tuple[str, str], dict[tuple[str, str], str]] = field(default_factory=dict)
    # one pass at a time per instance: the timer never applies an older spec over a change in progress
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def forget(self, key: tuple[str, str]) -> None:
        self.pending.discard(key)
        self.applied.pop(key, None)
        self.locks.pop(key, None)
