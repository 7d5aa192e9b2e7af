"""A throwaway embedded stack for benchmarks: PostgreSQL/Redis/S3 in a temp dir, migrated, one user."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator

import asyncpg

from runyard_server.common.migrate import apply_migrations
from runyard_server.common.security import hash_password, new_api_key
from runyard_server.local import EmbeddedStack


async def _make_user(dsn: str, username: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        uid = await conn.fetchval(
            "INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, true) RETURNING id",
            username, hash_password("bench-password"),
        )
        await conn.execute("INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2)", username, uid)
        key, prefix, digest = new_api_key()
        await conn.execute(
            "INSERT INTO api_keys (user_id, prefix, key_hash, name) VALUES ($1, $2, $3, 'bench')",
            uid, prefix, digest,
        )
        return key
    finally:
        await conn.close()


@contextlib.contextmanager
def bench_stack() -> Iterator[tuple[EmbeddedStack, str]]:
    """Yields (stack, api key of user `bench`); everything is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as tmp:
        stack = EmbeddedStack(tmp, durable=False).start()
        try:
            asyncio.run(apply_migrations(stack.database_url))
            yield stack, asyncio.run(_make_user(stack.database_url, "bench"))
        finally:
            stack.stop()
