"""Workspace layouts (one per project and user) and shared snapshots of them (migration 0020)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def get_layout(conn: asyncpg.Connection, project_id: int, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT layout, updated_at FROM workspace_layouts WHERE project_id = $1 AND user_id = $2", project_id, user_id)


async def put_layout(conn: asyncpg.Connection, project_id: int, user_id: int, layout: dict[str, Any]) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO workspace_layouts (project_id, user_id, layout) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (project_id, user_id) DO UPDATE SET layout = EXCLUDED.layout, updated_at = now()
           RETURNING layout, updated_at""",
        project_id, user_id, layout,
    )
    assert row is not None
    return row


async def delete_layout(conn: asyncpg.Connection, project_id: int, user_id: int) -> None:
    await conn.execute("DELETE FROM workspace_layouts WHERE project_id = $1 AND user_id = $2", project_id, user_id)


_VIEW = """v.id, v.layout, v.query, u.username AS created_by, v.created_at
             FROM workspace_views v LEFT JOIN users u ON u.id = v.created_by"""


async def create_view(conn: asyncpg.Connection, view_id: str, project_id: int, user_id: int,
                      layout: dict[str, Any], query: str) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO workspace_views (id, project_id, created_by, layout, query) VALUES ($1, $2, $3, $4::jsonb, $5)",
        view_id, project_id, user_id, layout, query)
    row = await conn.fetchrow(f"SELECT {_VIEW} WHERE v.id = $1", view_id)
    assert row is not None
    return row


async def get_view(conn: asyncpg.Connection, project_id: int, view_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_VIEW} WHERE v.id = $1 AND v.project_id = $2", view_id, project_id)
