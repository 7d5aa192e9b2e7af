"""Instance settings an admin changes at run time (table `instance_settings`)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def get_setting(conn: asyncpg.Connection, key: str, default: Any) -> Any:
    value = await conn.fetchval("SELECT value FROM instance_settings WHERE key = $1", key)
    return default if value is None else value


async def put_setting(conn: asyncpg.Connection, key: str, value: Any, user_id: int | None) -> None:
    await conn.execute(
        """INSERT INTO instance_settings (key, value, updated_by) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now(),
                                           updated_by = excluded.updated_by""",
        key, value, user_id,
    )
