"""Invite links (table `invites`): single use, expiring; only the token's SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def create_invite(
    conn: asyncpg.Connection, token_hash: bytes, created_by: int | None, team_id: int | None, role: str | None,
    ttl: timedelta,
) -> datetime:
    expires: datetime = await conn.fetchval(
        """INSERT INTO invites (token_hash, created_by, team_id, role, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING expires_at""",
        token_hash, created_by, team_id, role, ttl,
    )
    return expires


async def claim_invite(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """The live invite (locked for this transaction), or None when unknown, used or expired."""
    return await conn.fetchrow(
        """SELECT id, team_id, role, created_by FROM invites
            WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() FOR UPDATE""",
        token_hash,
    )


async def mark_used(conn: asyncpg.Connection, invite_id: int, user_id: int) -> None:
    await conn.execute("UPDATE invites SET used_at = now(), used_by = $2 WHERE id = $1", invite_id, user_id)
