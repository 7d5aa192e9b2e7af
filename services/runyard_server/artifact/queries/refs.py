"""Look-ups of rows other services write (runs: ingest; entities: auth), which the artifact service reads."""

from __future__ import annotations

import asyncpg


async def run_pk(conn: asyncpg.Connection, project_id: int, run_id: str) -> int | None:
    """The primary key of run `run_id` of the project, or None."""
    pk = await conn.fetchval("SELECT id FROM runs WHERE project_id = $1 AND run_id = $2", project_id, run_id)
    return None if pk is None else int(pk)


async def entity_name(conn: asyncpg.Connection, entity_id: int) -> str | None:
    return await conn.fetchval("SELECT name FROM entities WHERE id = $1", entity_id)  # type: ignore[no-any-return]
