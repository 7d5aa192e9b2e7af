"""SQL of run edits and deletion (routes/run_edit.py). The run row is locked first, as ingest locks it
for every batch, so an edit and a live batch never interleave inside one row update."""

from __future__ import annotations

from typing import Any

import asyncpg

# the columns an edit may set (fixed names; never built from input)
EDITABLE = ("name", "notes", "group_name", "job_type")


async def lock_run(conn: asyncpg.Connection, project_id: int, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, state, tags FROM runs WHERE project_id = $1 AND run_id = $2 FOR UPDATE", project_id, run_id
    )


async def update_run(conn: asyncpg.Connection, pk: int, *, fields: dict[str, str], tags: list[str] | None,
                     config_set: dict[str, Any], config_remove: list[str], summary_set: dict[str, Any],
                     summary_remove: list[str]) -> None:
    """Set the given fields, merge config and summary; `last_seq`, state and heartbeat stay as they are."""
    assert set(fields) <= set(EDITABLE)
    await conn.execute(
        """UPDATE runs SET
               name = coalesce($2, name),
               notes = coalesce($3, notes),
               group_name = coalesce($4, group_name),
               job_type = coalesce($5, job_type),
               tags = coalesce($6, tags),
               config = (config - $7::text[]) || $8::jsonb,
               summary = (summary - $9::text[]) || $10::jsonb,
               updated_at = now()
            WHERE id = $1""",
        pk, fields.get("name"), fields.get("notes"), fields.get("group_name"), fields.get("job_type"), tags,
        config_remove, config_set, summary_remove, summary_set,
    )


async def delete_run(conn: asyncpg.Connection, pk: int) -> None:
    """History, output, run files and usage rows go with it (ON DELETE CASCADE); artifact versions it
    produced stay, with no producing run."""
    await conn.execute("DELETE FROM runs WHERE id = $1", pk)
