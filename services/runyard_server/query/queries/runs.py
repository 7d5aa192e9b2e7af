"""One run of a project (the runs list is in runs_search.py)."""

from __future__ import annotations

import asyncpg

RUN_STATES = ("running", "finished", "failed", "crashed")

_COLUMNS = """r.id AS pk, r.run_id, r.name, r.run_number, r.state, r.config, r.summary, r.tags, r.group_name, r.job_type,
              r.notes, r.host, u.username AS created_by, r.created_at, r.updated_at, r.heartbeat_at,
              r.finished_at, r.exit_code, r.error"""


async def get_run(conn: asyncpg.Connection, project_id: int, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS}
              FROM runs r LEFT JOIN users u ON u.id = r.created_by
             WHERE r.project_id = $1 AND r.run_id = $2""",
        project_id, run_id,
    )


async def run_pk(conn: asyncpg.Connection, project_id: int, run_id: str) -> int | None:
    value = await conn.fetchval("SELECT id FROM runs WHERE project_id = $1 AND run_id = $2", project_id, run_id)
    return None if value is None else int(value)
