"""The asyncpg pool: JSON codecs registered once per connection in `init`."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from .metrics import track_pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=dumps_json, decoder=json.loads, schema="pg_catalog"
        )


def dumps_json(value: Any) -> str:
    """JSON for PostgreSQL: NaN/Infinity are not valid jsonb, so they travel as strings."""
    return json.dumps(_finite(value), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    track_pool(pool)
    return pool
