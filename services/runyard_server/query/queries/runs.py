"""Runs of a project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

# API field -> SQL column; the only names `order` accepts (never interpolate user text)
RUN_STATES = ("running", "finished", "failed", "crashed")
ORDER_FIELDS = {"created_at": "r.created_at", "updated_at": "r.updated_at", "name": "r.name", "state": "r.state"}

_COLUMNS = """r.id AS pk, r.run_id, r.name, r.run_number, r.state, r.config, r.summary, r.tags, r.group_name, r.job_type,
              r.notes, r.host, u.username AS created_by, r.created_at, r.updated_at, r.heartbeat_at,
              r.finished_at, r.exit_code, r.error"""


@dataclass(frozen=True)
class RunFilter:
    """Optional filters of the runs list; empty means "any"."""

    states: tuple[str, ...] = ()
    tag: str | None = None
    group: str | None = None
    search: str | None = None  # case-insensitive substring of the name or run id


# $1 project id, $2 states, $3 tag, $4 group, $5 search pattern
_WHERE = """r.project_id = $1
               AND (cardinality($2::text[]) = 0 OR r.state = ANY($2::text[]))
               AND ($3::text IS NULL OR $3 = ANY(r.tags))
               AND ($4::text IS NULL OR r.group_name = $4)
               AND ($5::text IS NULL OR r.name ILIKE $5 OR r.run_id ILIKE $5)"""


def _filter_args(project_id: int, f: RunFilter) -> list[Any]:
    pattern = None
    if f.search:
        escaped = f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    return [project_id, list(f.states), f.tag, f.group, pattern]


async def count_runs(conn: asyncpg.Connection, project_id: int, f: RunFilter = RunFilter()) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM runs r WHERE {_WHERE}", *_filter_args(project_id, f)))


async def list_runs(
    conn: asyncpg.Connection, project_id: int, *, order_field: str, descending: bool, limit: int, offset: int,
    f: RunFilter = RunFilter(),
) -> list[asyncpg.Record]:
    column = ORDER_FIELDS[order_field]
    direction = "DESC" if descending else "ASC"
    return await conn.fetch(
        f"""SELECT {_COLUMNS}
              FROM runs r LEFT JOIN users u ON u.id = r.created_by
             WHERE {_WHERE}
             ORDER BY {column} {direction}, r.id {direction}
             LIMIT $6 OFFSET $7""",
        *_filter_args(project_id, f), limit, offset,
    )


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
