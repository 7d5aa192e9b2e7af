"""SQL of run files (the artifact service is the only writer of `run_files`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from ...common.formats import iso

_COLS = "path, size, sha256, content_type, uploaded_at"
# the same columns and the bytes' MD5 (kept with every stored object; W&B's clients compare it)
_COLS_MD5 = "f.path, f.size, f.sha256, f.content_type, f.uploaded_at, o.md5"


def record(row: asyncpg.Record) -> dict[str, Any]:
    return {"path": row["path"], "size": row["size"], "sha256": row["sha256"], "md5": row["md5"],
            "content_type": row["content_type"], "uploaded_at": iso(row["uploaded_at"])}


async def upsert(conn: asyncpg.Connection, run_pk: int, path: str, object_id: int, size: int, sha256: str,
                 content_type: str, user_id: int) -> asyncpg.Record:
    """A path of a run names one object; saving the path again points it at the new bytes."""
    row = await conn.fetchrow(
        f"""WITH f AS (
              INSERT INTO run_files (run_id, path, object_id, size, sha256, content_type, uploaded_by)
              VALUES ($1, $2, $3, $4, $5, $6, $7)
              ON CONFLICT (run_id, path) DO UPDATE SET object_id = EXCLUDED.object_id, size = EXCLUDED.size,
                  sha256 = EXCLUDED.sha256, content_type = EXCLUDED.content_type, uploaded_at = now(),
                  uploaded_by = EXCLUDED.uploaded_by
              RETURNING {_COLS}, object_id)
            SELECT {_COLS_MD5} FROM f JOIN storage_objects o ON o.id = f.object_id""",
        run_pk, path, object_id, size, sha256, content_type, user_id,
    )
    assert row is not None
    return row


async def get(conn: asyncpg.Connection, run_pk: int, path: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_COLS_MD5}, o.key
             FROM run_files f JOIN storage_objects o ON o.id = f.object_id
            WHERE f.run_id = $1 AND f.path = $2""",
        run_pk, path,
    )


async def delete(conn: asyncpg.Connection, run_pk: int, path: str) -> bool:
    return await conn.fetchval("DELETE FROM run_files WHERE run_id = $1 AND path = $2 RETURNING 1", run_pk, path) == 1


async def list_folder(conn: asyncpg.Connection, run_pk: int, prefix: str, *, recursive: bool, limit: int,
                      offset: int) -> tuple[list[asyncpg.Record], list[asyncpg.Record], int]:
    """(sub-folders, files, total files) directly under `prefix` ('' or ending with '/')."""
    folders: list[asyncpg.Record] = []
    depth = "" if recursive else "AND strpos(substr(path, length($2) + 1), '/') = 0"
    if not recursive:
        folders = await conn.fetch(
            """SELECT split_part(substr(path, length($2) + 1), '/', 1) AS name, count(*) AS file_count,
                      sum(size)::bigint AS size, max(uploaded_at) AS updated_at
                 FROM run_files
                WHERE run_id = $1 AND starts_with(path, $2) AND strpos(substr(path, length($2) + 1), '/') > 0
                GROUP BY 1 ORDER BY 1""",
            run_pk, prefix,
        )
    files = await conn.fetch(
        f"""SELECT {_COLS_MD5}, count(*) OVER () AS total
              FROM run_files f JOIN storage_objects o ON o.id = f.object_id
             WHERE f.run_id = $1 AND starts_with(f.path, $2) {depth}
             ORDER BY f.path LIMIT $3 OFFSET $4""",
        run_pk, prefix, limit, offset,
    )
    total = int(files[0]["total"]) if files else 0
    if not files and offset:
        total = int(await conn.fetchval(
            f"SELECT count(*) FROM run_files WHERE run_id = $1 AND starts_with(path, $2) {depth}", run_pk, prefix
        ))
    return folders, files, total
