"""SQL of artifacts, versions, aliases and lineage (the artifact service is their only writer)."""

from __future__ import annotations

from datetime import datetime
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


async def list_artifacts(conn: asyncpg.Connection, project_id: int, typ: str | None) -> list[asyncpg.Record]:
    """The project's artifacts (of type `typ` when given) by name, with `version_count` and `latest` (`vN`)."""
    return await conn.fetch(
        """SELECT a.*, (SELECT count(*) FROM artifact_versions v WHERE v.artifact_id = a.id) AS version_count,
                  (SELECT 'v' || v.version FROM artifact_aliases al JOIN artifact_versions v ON v.id = al.version_id
                    WHERE al.artifact_id = a.id AND al.alias = 'latest') AS latest
             FROM artifacts a WHERE a.project_id = $1 AND ($2::text IS NULL OR a.type = $2)
            ORDER BY a.name""",
        project_id, typ,
    )


async def lock_artifact(conn: asyncpg.Connection, project_id: int, name: str) -> asyncpg.Record:
    """The artifact, locked until the caller's transaction ends (versions are numbered under this lock)."""
    row = await conn.fetchrow(
        "SELECT * FROM artifacts WHERE project_id = $1 AND name = $2 FOR UPDATE", project_id, name
    )
    if row is None:
        raise NotFound(f"artifact {name!r} not found")
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


async def versions(conn: asyncpg.Connection, artifact_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM artifact_versions WHERE artifact_id = $1 ORDER BY version", artifact_id)


async def create_version(conn: asyncpg.Connection, artifact: asyncpg.Record, *, digest: str, size: int,
                         description: str, metadata: dict[str, Any], run_pk: int | None, user_id: int,
                         files: list[tuple[str, int | None, str | None, int | None, str | None, str | None]],
                         created_at: datetime | None = None) -> asyncpg.Record:
    """Version `next_version` of a locked artifact with its manifest; `files` rows are
    (path, object_id, sha256, size, ref_uri, ref_digest); `created_at` defaults to now. Run inside the
    transaction holding the lock."""
    version = await conn.fetchrow(
        """INSERT INTO artifact_versions (artifact_id, version, digest, size, file_count, description,
                                          metadata, created_by_run, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now())) RETURNING *""",
        artifact["id"], artifact["next_version"], digest, size, len(files), description, metadata, run_pk, user_id,
        created_at,
    )
    assert version is not None
    await conn.execute("UPDATE artifacts SET next_version = next_version + 1 WHERE id = $1", artifact["id"])
    await conn.copy_records_to_table(
        "artifact_files", columns=["version_id", "path", "object_id", "sha256", "size", "ref_uri", "ref_digest"],
        records=[(version["id"], *f) for f in files],
    )
    return version


async def delete_version(conn: asyncpg.Connection, version_id: int) -> None:
    """The version, its manifest and aliases (cascade); its objects wait for the GC."""
    await conn.execute("DELETE FROM artifact_versions WHERE id = $1", version_id)


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


async def delete_alias(conn: asyncpg.Connection, artifact_id: int, alias: str) -> bool:
    """False when the artifact has no such alias."""
    done = await conn.fetchval(
        "DELETE FROM artifact_aliases WHERE artifact_id = $1 AND alias = $2 RETURNING 1", artifact_id, alias
    )
    return done is not None


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


async def record_use(conn: asyncpg.Connection, version_id: int, run_pk: int) -> None:
    """Lineage: the run used the version (again: the time moves)."""
    await conn.execute(
        """INSERT INTO artifact_usage (version_id, run_id) VALUES ($1, $2)
           ON CONFLICT (version_id, run_id) DO UPDATE SET used_at = now()""",
        version_id, run_pk,
    )


async def consumers(conn: asyncpg.Connection, version_id: int, entity_ids: list[int], everything: bool
                    ) -> list[dict[str, Any]]:
    """Runs that used the version, among projects the caller may read: internal ones, those of
    `entity_ids`, or any when `everything` (the caller's readable scope). A run in a project the caller
    may not read is left out: its name and its project's name stay private (docs/security.md)."""
    rows = await conn.fetch(
        """SELECT r.run_id, p.name AS project, e.name AS entity, u.used_at
             FROM artifact_usage u JOIN runs r ON r.id = u.run_id JOIN projects p ON p.id = r.project_id
             JOIN entities e ON e.id = p.entity_id
            WHERE u.version_id = $1
              AND (p.visibility = 'internal' OR p.entity_id = ANY($2::bigint[]) OR $3)
            ORDER BY u.used_at""",
        version_id, entity_ids, everything,
    )
    return [{"entity": r["entity"], "project": r["project"], "run_id": r["run_id"],
             "used_at": iso(r["used_at"])} for r in rows]


# manifest entries with their object's bucket `key` (None for a reference)
_MANIFEST = """SELECT f.path, f.sha256, f.size, f.ref_uri, f.ref_digest, o.key, o.md5
                 FROM artifact_files f LEFT JOIN storage_objects o ON o.id = f.object_id
                WHERE f.version_id = $1"""


async def files(conn: asyncpg.Connection, version_id: int, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(_MANIFEST + " ORDER BY f.path LIMIT $2 OFFSET $3", version_id, limit, offset)


async def file(conn: asyncpg.Connection, version_id: int, path: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_MANIFEST + " AND f.path = $2", version_id, path)


_LINEAGE = """SELECT e.name AS entity, p.name AS project, a.name, a.type, v.version, v.digest, v.size, v.created_at
                FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id
                JOIN projects p ON p.id = a.project_id JOIN entities e ON e.id = p.entity_id"""


async def logged_by(conn: asyncpg.Connection, run_pk: int) -> list[asyncpg.Record]:
    """Versions the run created, oldest first."""
    return await conn.fetch(_LINEAGE + " WHERE v.created_by_run = $1 ORDER BY v.created_at", run_pk)


async def used_by(conn: asyncpg.Connection, run_pk: int, entity_ids: list[int], everything: bool
                  ) -> list[asyncpg.Record]:
    """Versions the run used, in order of use, among projects that are internal, of `entity_ids`, or any
    when `everything` (the caller's readable scope)."""
    return await conn.fetch(
        _LINEAGE + """ JOIN artifact_usage u ON u.version_id = v.id WHERE u.run_id = $1
                       AND (p.visibility = 'internal' OR p.entity_id = ANY($2::bigint[]) OR $3)
                     ORDER BY u.used_at""",
        run_pk, entity_ids, everything,
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


async def update_version(conn: asyncpg.Connection, version_id: int, description: str | None,
                         metadata: dict[str, Any] | None) -> asyncpg.Record:
    """Set a version's description and/or metadata (None leaves it); the manifest never changes."""
    row = await conn.fetchrow(
        """UPDATE artifact_versions SET description = coalesce($2, description),
                  metadata = coalesce($3::jsonb, metadata) WHERE id = $1 RETURNING *""",
        version_id, description, metadata,
    )
    assert row is not None
    return row
