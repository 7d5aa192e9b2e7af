"""Prometheus metrics every service process shares (module level, bounded labels).

- `runyard_key_verifications_total{result}`: API-key checks by the shared verifier (ok, cached,
  invalid, revoked, disabled), in whichever service verified the key.
- `runyard_db_pool_connections{state}`: the asyncpg pools of this process (in_use, idle, max), read at
  scrape time from every pool `common.db.create_pool` opened and that is still open.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["KEY_VERIFICATIONS", "track_pool"]

KEY_VERIFICATIONS = Counter(
    "runyard_key_verifications_total", "API-key verifications by the shared verifier, by outcome", ["result"]
)
for _result in ("ok", "cached", "invalid", "revoked", "disabled"):
    KEY_VERIFICATIONS.labels(_result)  # every outcome is a series from the start (rate() reads 0, not nothing)

_POOLS: set[asyncpg.Pool] = set()  # asyncpg pools take no weak references; closed ones are dropped


def track_pool(pool: asyncpg.Pool) -> None:
    """Count `pool` in runyard_db_pool_connections until it is closed."""
    _POOLS.difference_update([p for p in _POOLS if p.is_closing()])
    _POOLS.add(pool)


class _PoolCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "runyard_db_pool_connections", "PostgreSQL connections of this process's pools", labels=["state"]
        )
        in_use = idle = most = 0
        for pool in list(_POOLS):
            if pool.is_closing():
                _POOLS.discard(pool)
                continue
            size, free = pool.get_size(), pool.get_idle_size()
            in_use += size - free
            idle += free
            most += pool.get_max_size()
        family.add_metric(["in_use"], in_use)
        family.add_metric(["idle"], idle)
        family.add_metric(["max"], most)
        yield family


REGISTRY.register(_PoolCollector())
