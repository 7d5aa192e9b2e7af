"""Browser sessions (table `sessions`, migration 0002). Only token hashes are stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def create_session(
    conn: asyncpg.Connection, user_id: int, token_hash: bytes, csrf_hash: bytes, ttl: timedelta,
    user_agent: str = "",
) -> tuple[int, datetime]:
    row = await conn.fetchrow(
        """INSERT INTO sessions (user_id, token_hash, csrf_hash, expires_at, user_agent)
           VALUES ($1, $2, $3, now() + $4::interval, $5)
           RETURNING id, expires_at""",
        user_id, token_hash, csrf_hash, ttl, user_agent[:512],
    )
    assert row is not None
    return int(row["id"]), row["expires_at"]


async def delete_session(conn: asyncpg.Connection, session_id: int) -> None:
    await conn.execute("DELETE FROM sessions WHERE id = $1", session_id)


async def delete_expired_sessions(conn: asyncpg.Connection, user_id: int) -> int:
    """Housekeeping at login: drop this user's expired sessions."""
    status = await conn.execute("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()", user_id)
    return int(status.split()[-1])


async def delete_user_sessions(conn: asyncpg.Connection, user_id: int, keep_session_id: int | None = None) -> int:
    """End every session of the user (except `keep_session_id`): after a password change or reset."""
    status = await conn.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2::bigint IS NULL OR id <> $2)", user_id, keep_session_id
    )
    return int(status.split()[-1])
