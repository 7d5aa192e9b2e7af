"""Instance-wide facts."""

from __future__ import annotations

import asyncpg


async def needs_setup(conn: asyncpg.Connection) -> bool:
    """True until the first user (the admin) exists."""
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)")
