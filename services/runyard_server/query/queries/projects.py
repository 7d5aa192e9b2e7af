"""Projects with their run counts and last activity."""

from __future__ import annotations

import asyncpg

from ...common.verifier import ReadScope

_STATS = """
    LEFT JOIN LATERAL (
        SELECT count(*) AS run_count, max(r.updated_at) AS last_run
          FROM runs r WHERE r.project_id = p.id
    ) rs ON true"""

_COLUMNS = """e.name AS entity, p.name, p.visibility, p.description, p.created_at, p.updated_at,
              rs.run_count, greatest(p.updated_at, rs.last_run) AS last_activity"""


async def list_projects(conn: asyncpg.Connection, scope: ReadScope, entity: str | None) -> list[asyncpg.Record]:
    """Every project `scope` may read (same rule as `verifier.project_for_read`), newest activity first."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS}
              FROM projects p JOIN entities e ON e.id = p.entity_id {_STATS}
             WHERE ($1 OR p.entity_id = ANY($2::bigint[]) OR p.visibility = 'internal')
               AND ($3::text IS NULL OR e.name = $3)
             ORDER BY last_activity DESC, e.name, p.name""",
        scope.everything, list(scope.entity_ids), entity,
    )


async def project_with_stats(conn: asyncpg.Connection, project_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS}
              FROM projects p JOIN entities e ON e.id = p.entity_id {_STATS}
             WHERE p.id = $1""",
        project_id,
    )


async def update_project(
    conn: asyncpg.Connection, project_id: int, visibility: str | None, description: str | None
) -> None:
    """Project settings (PATCH); the ingest service creates projects, this changes only these two."""
    await conn.execute(
        """UPDATE projects SET visibility = coalesce($2, visibility), description = coalesce($3, description),
                  updated_at = now()
            WHERE id = $1""",
        project_id, visibility, description,
    )
