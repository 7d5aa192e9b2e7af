"""The tests' one way to PostgreSQL: seed the rows a service would write, read back what one wrote.

    db.fetch(dsn, "SELECT state, config FROM runs WHERE run_id = $1", rid)   # [Record, ...]
    db.fetchval(dsn, "SELECT count(*) FROM users")                          # one value
    db.execute(dsn, "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", prefix)
    async with db.connect(dsn) as conn: ...                                   # several statements
    with db.fresh_database(stack.database_url, prefix="ry_svc_") as dsn: ...  # migrated, dropped after

Every call opens its own connection and closes it: tests call these from plain functions, from threads
and from inside running event loops (`run_coro` copes with all three), and a test that holds no
connection cannot leak one into the next. JSON and JSONB go through the same codecs as the services'
pool (common/db.py): a dict goes in as a dict and comes out as one, NaN travels as "NaN".
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from runyard_server.common.db import dumps_json
from runyard_server.common.migrate import apply_migrations
from runyard_server.local import run_coro

__all__ = ["connect", "database_url", "execute", "fetch", "fetchval", "fresh_database"]


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection with the services' JSON codecs, closed on leaving the block."""
    conn = await asyncpg.connect(dsn)
    try:
        for typ in ("json", "jsonb"):
            await conn.set_type_codec(typ, encoder=dumps_json, decoder=json.loads, schema="pg_catalog")
        yield conn
    finally:
        await conn.close()


def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of one statement (`row["column"]`; `dict(row)` for a plain dict)."""

    async def go() -> list[asyncpg.Record]:
        async with connect(dsn) as conn:
            return await conn.fetch(sql, *args)  # type: ignore[no-any-return]

    return run_coro(go())


def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    """The first column of the first row of one statement (None when there is no row)."""

    async def go() -> Any:
        async with connect(dsn) as conn:
            return await conn.fetchval(sql, *args)

    return run_coro(go())


def execute(dsn: str, sql: str, *args: Any) -> str:
    """Run a statement (without `args`, several separated by semicolons); its status, e.g. 'UPDATE 1'."""

    async def go() -> str:
        async with connect(dsn) as conn:
            return await conn.execute(sql, *args)  # type: ignore[no-any-return]

    return run_coro(go())


def database_url(server_dsn: str, name: str) -> str:
    """The same server, user and password, another database."""
    return urlunsplit(urlsplit(server_dsn)._replace(path="/" + name))


@contextmanager
def fresh_database(server_dsn: str, *, prefix: str = "ry_test_") -> Iterator[str]:
    """A new database on the server of `server_dsn`, migrated from scratch; dropped afterwards even
    when connections to it are still open. Yields its DSN."""
    name = prefix + secrets.token_hex(6)
    execute(server_dsn, f'CREATE DATABASE "{name}"')
    dsn = database_url(server_dsn, name)
    try:
        run_coro(apply_migrations(dsn))
        yield dsn
    finally:
        execute(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
