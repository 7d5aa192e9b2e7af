"""SQL of artifacts, versions, aliases and lineage (the artifact service is their only writer)."""

from __future__ import annotations

from typing import Any

import asyncpg

from ...common.errors import NotFound
from ...common.formats import iso
from ..names import version_number


async def lock_or_create(conn: asyncpg.Connection, project_id: int, name: str, typ: str,
                         description: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO artifacts (project_id, name, type, description) VALUES ($1, $2, $3, $4)
           ON CONFLICT (project_id, name) DO UPDATE SET updated_at = now()
           RETURNING *""",
        project_id, name, typ, description,
    )
    assert row is not None
    return row


async def get_artifact(conn: asyncpg.Connection, project_id: int, name: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM artifacts WHERE project_id = $1 AND name = $2", project_id, name)
    if row is None:
        raise NotFound(f"artifact {name!r} not found")
    return row


async def newest_version(conn: asyncpg.Connection, artifact_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM artifact_versions WHERE artifact_id = $1 ORDER BY version DESC LIMIT 1", artifact_id
    )


async def resolve(conn: asyncpg.Connection, artifact: asyncpg.Record, ref: str) -> asyncpg.Record:
    """`v3` or an alias (`latest`, `best`, ...) -> the version row."""
    n = version_number(ref)
    if n is not None:
        row = await conn.fetchrow(
            "SELECT * FROM artifact_versions WHERE artifact_id = $1 AND version = $2", artifact["id"], n
        )
    else:
        row = await conn.fetchrow(
            """SELECT v.* FROM artifact_aliases a JOIN artifact_versions v ON v.id = a.version_id
                WHERE a.artifact_id = $1 AND a.alias = $2""",
            artifact["id"], ref,
        )
    if row is None:
        raise NotFound(f"artifact {artifact['name']}:{ref} not found")
    return row


async def set_alias(conn: asyncpg.Connection, artifact_id: int, alias: str, version_id: int) -> None:
    await conn.execute(
        """INSERT INTO artifact_aliases (artifact_id, alias, version_id) VALUES ($1, $2, $3)
           ON CONFLICT (artifact_id, alias) DO UPDATE SET version_id = EXCLUDED.version_id, created_at = now()""",
        artifact_id, alias, version_id,
    )


async def aliases_of(conn: asyncpg.Connection, version_ids: list[int]) -> dict[int, list[str]]:
    rows = await conn.fetch(
        "SELECT version_id, alias FROM artifact_aliases WHERE version_id = ANY($1::bigint[]) ORDER BY alias",
        version_ids,
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r["version_id"], []).append(r["alias"])
    return out


async def run_ref(conn: asyncpg.Connection, run_pk: int | None) -> dict[str, str] | None:
    if run_pk is None:
        return None
    row = await conn.fetchrow(
        """SELECT r.run_id, p.name AS project, e.name AS entity FROM runs r JOIN projects p ON p.id = r.project_id
             JOIN entities e ON e.id = p.entity_id WHERE r.id = $1""",
        run_pk,
    )
    return None if row is None else {"entity": row["entity"], "project": row["project"], "run_id": row["run_id"]}


async def consumers(conn: asyncpg.Connection, version_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT r.run_id, p.name AS project, e.name AS entity, u.used_at
             FROM artifact_usage u JOIN runs r ON r.id = u.run_id JOIN projects p ON p.id = r.project_id
             JOIN entities e ON e.id = p.entity_id
            WHERE u.version_id = $1 ORDER BY u.used_at""",
        version_id,
    )
    return [{"entity": r["entity"], "project": r["project"], "run_id": r["run_id"],
             "used_at": iso(r["used_at"])} for r in rows]


async def files(conn: asyncpg.Connection, version_id: int, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT f.path, f.sha256, f.size, f.ref_uri, f.ref_digest, o.key, o.md5
             FROM artifact_files f LEFT JOIN storage_objects o ON o.id = f.object_id
            WHERE f.version_id = $1 ORDER BY f.path LIMIT $2 OFFSET $3""",
        version_id, limit, offset,
    )


async def storage_used(conn: asyncpg.Connection, project_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        """WITH rf AS (SELECT DISTINCT f.object_id FROM run_files f JOIN runs r ON r.id = f.run_id
                        WHERE r.project_id = $1),
                af AS (SELECT DISTINCT f.object_id FROM artifact_files f
                         JOIN artifact_versions v ON v.id = f.version_id JOIN artifacts a ON a.id = v.artifact_id
                        WHERE a.project_id = $1 AND f.object_id IS NOT NULL),
                al AS (SELECT object_id FROM rf UNION SELECT object_id FROM af)
           SELECT (SELECT coalesce(sum(o.size), 0) FROM rf JOIN storage_objects o ON o.id = rf.object_id) AS rf_bytes,
                  (SELECT count(*) FROM rf) AS rf_objects,
                  (SELECT coalesce(sum(o.size), 0) FROM af JOIN storage_objects o ON o.id = af.object_id) AS af_bytes,
                  (SELECT count(*) FROM af) AS af_objects,
                  (SELECT coalesce(sum(o.size), 0) FROM al JOIN storage_objects o ON o.id = al.object_id) AS bytes,
                  (SELECT count(*) FROM al) AS objects,
                  (SELECT coalesce(sum(f.size), 0) FROM run_files f JOIN runs r ON r.id = f.run_id
                    WHERE r.project_id = $1) AS rf_logical,
                  (SELECT coalesce(sum(v.size), 0) FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id
                    WHERE a.project_id = $1) AS af_logical""",
        project_id,
    )
    assert row is not None
    return {
        "bytes": int(row["bytes"]), "objects": int(row["objects"]),
        "run_files": {"bytes": int(row["rf_bytes"]), "objects": int(row["rf_objects"]),
                      "logical_bytes": int(row["rf_logical"])},
        "artifacts": {"bytes": int(row["af_bytes"]), "objects": int(row["af_objects"]),
                      "logical_bytes": int(row["af_logical"])},
    }
