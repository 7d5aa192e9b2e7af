"""API keys of a user: list, revoke (only hashes are stored; the key itself is shown once)."""

from __future__ import annotations

import asyncpg


async def list_keys(conn: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, prefix, name, created_at, last_used_at FROM api_keys
            WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id""",
        user_id,
    )


async def key_row(conn: asyncpg.Connection, key_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT k.id, k.user_id, k.prefix, k.name, k.key_hash, k.revoked_at, u.username
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1""",
        key_id,
    )


async def key_by_prefix(conn: asyncpg.Connection, prefix: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT k.id, k.user_id, k.prefix, k.name, k.key_hash, k.revoked_at, u.username
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1""",
        prefix,
    )


async def revoke(conn: asyncpg.Connection, key_id: int) -> bytes | None:
    """Revoke one key; returns its hash (for cache invalidation) or None when it was revoked already."""
    value = await conn.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING key_hash", key_id
    )
    return bytes(value) if value is not None else None


async def user_key_hashes(conn: asyncpg.Connection, user_id: int) -> list[bytes]:
    rows = await conn.fetch("SELECT key_hash FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL", user_id)
    return [bytes(r["key_hash"]) for r in rows]
