"""SQL of the TensorBoard component (read only: runs are written by ingest, run files by artifact)."""

from __future__ import annotations

import asyncpg

__all__ = ["event_files", "runs_by_id"]

EVENT_PREFIX = "tensorboard/"


async def runs_by_id(conn: asyncpg.Connection, project_pk: int, run_ids: list[str]) -> list[asyncpg.Record]:
    """(id, run_id, name) of the project's runs among `run_ids`, in the order asked."""
    return await conn.fetch(
        """SELECT r.id, r.run_id, r.name FROM unnest($2::text[]) WITH ORDINALITY AS want(run_id, n)
             JOIN runs r ON r.project_id = $1 AND r.run_id = want.run_id
            ORDER BY want.n""",
        project_pk, run_ids,
    )


async def event_files(conn: asyncpg.Connection, run_pks: list[int]) -> list[asyncpg.Record]:
    """The run files under `tensorboard/` of these runs: (run_pk, path, size, sha256, key), by run and path."""
    return await conn.fetch(
        """SELECT f.run_id AS run_pk, f.path, f.size, f.sha256, o.key
             FROM run_files f JOIN storage_objects o ON o.id = f.object_id
            WHERE f.run_id = ANY($1::bigint[]) AND starts_with(f.path, $2)
            ORDER BY f.run_id, f.path""",
        run_pks, EVENT_PREFIX,
    )
