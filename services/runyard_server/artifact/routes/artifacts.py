"""Artifacts: `/api/v1/artifacts/{entity}/{project}/...` (log, use, download, aliases, lineage, storage)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ...common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ...common.formats import iso
from ...common.verifier import Principal
from .. import manifest, metrics, uploads
from ..access import ProjectRef, project_for_write, project_read, run_pk
from ..deps import PoolDep, PrincipalDep, SettingsDep, StorageDep
from ..names import alias as clean_alias
from ..names import artifact_name, artifact_type, clean_path
from ..queries import artifacts as q
from ..schemas import AliasIn, ObjectUploadsIn, UseIn, VersionIn

router = APIRouter(prefix="/api/v1/artifacts/{entity}/{project}", tags=["artifacts"])
MAX_METADATA_BYTES = 100_000


def _version_out(art: asyncpg.Record, v: asyncpg.Record, aliases: list[str], proj: ProjectRef) -> dict[str, Any]:
    return {
        "entity": proj.entity, "project": proj.name, "name": art["name"], "type": art["type"],
        "version": f"v{v['version']}", "version_index": v["version"], "digest": v["digest"],
        "size": v["size"], "file_count": v["file_count"], "description": v["description"],
        "metadata": v["metadata"], "aliases": aliases, "created_at": iso(v["created_at"]),
        "qualified_name": f"{proj.entity}/{proj.name}/{art['name']}:v{v['version']}",
    }


@router.post("/_uploads")
async def begin_object_uploads(entity: str, project: str, body: ObjectUploadsIn, who: PrincipalDep, pool: PoolDep,
                               storage: StorageDep, settings: SettingsDep) -> dict[str, Any]:
    """Start or resume uploads of artifact files; objects already stored come back `ready`."""
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
    items = uploads.validate_requests([o.model_dump() for o in body.objects], settings)
    return {"objects": await uploads.begin(pool, storage, settings, who, proj.entity_id, items)}


@router.get("/_storage")
async def storage_used(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Bytes the project's run files and artifact versions hold (distinct objects, so dedup counts once)."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        used = await q.storage_used(conn, proj.id)
    return {"entity": proj.entity, "project": proj.name, **used}


@router.get("")
async def list_artifacts(entity: str, project: str, who: PrincipalDep, pool: PoolDep,
                         type: str | None = None) -> dict[str, Any]:
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        rows = await conn.fetch(
            """SELECT a.*, (SELECT count(*) FROM artifact_versions v WHERE v.artifact_id = a.id) AS version_count,
                      (SELECT 'v' || v.version FROM artifact_aliases al JOIN artifact_versions v ON v.id = al.version_id
                        WHERE al.artifact_id = a.id AND al.alias = 'latest') AS latest
                 FROM artifacts a WHERE a.project_id = $1 AND ($2::text IS NULL OR a.type = $2)
                ORDER BY a.name""",
            proj.id, type,
        )
    return {"artifacts": [{"name": r["name"], "type": r["type"], "description": r["description"],
                           "version_count": r["version_count"], "latest": r["latest"],
                           "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"])}
                          for r in rows]}


@router.post("/{name}/versions")
async def log_version(entity: str, project: str, name: str, body: VersionIn, who: PrincipalDep, pool: PoolDep,
                      settings: SettingsDep) -> dict[str, Any]:
    """Commit a version from a manifest of uploaded files and references.

    If the manifest equals the newest version's, no version is created (`created: false`); the
    aliases given still move to that version.
    """
    artifact_name(name)
    artifact_type(body.type)
    aliases = [clean_alias(a) for a in dict.fromkeys(body.aliases) if a != "latest"]
    entries = manifest.validate([e.model_dump() for e in body.files], settings)
    if len(json.dumps(body.metadata, default=str)) > MAX_METADATA_BYTES:
        raise InvalidArgument(f"metadata is larger than {MAX_METADATA_BYTES} bytes of JSON")
    digest = manifest.digest(entries)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        producer = await run_pk(conn, proj, body.run_id) if body.run_id else None
        async with conn.transaction():
            objs = await uploads.claim_ready(conn, proj.entity_id, [e.sha256 for e in entries if e.sha256])
            for e in entries:
                if e.sha256 and objs[e.sha256]["size"] != e.size:
                    raise InvalidArgument(f"{e.path}: size {e.size} differs from the stored object's {objs[e.sha256]['size']}")
            art = await q.lock_or_create(conn, proj.id, name, body.type, body.description)
            if art["type"] != body.type:
                raise AlreadyExists(f"artifact {name!r} exists with type {art['type']!r}, not {body.type!r}")
            newest = await q.newest_version(conn, art["id"])
            created = newest is None or newest["digest"] != digest
            if created:
                total = sum(e.size or 0 for e in entries)
                version = await conn.fetchrow(
                    """INSERT INTO artifact_versions (artifact_id, version, digest, size, file_count, description,
                                                      metadata, created_by_run, created_by)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
                    art["id"], art["next_version"], digest, total, len(entries), body.description,
                    body.metadata, producer, who.user_id,
                )
                assert version is not None
                await conn.execute("UPDATE artifacts SET next_version = next_version + 1 WHERE id = $1", art["id"])
                await conn.copy_records_to_table(
                    "artifact_files",
                    columns=["version_id", "path", "object_id", "sha256", "size", "ref_uri", "ref_digest"],
                    records=[(version["id"], e.path, objs[e.sha256]["id"] if e.sha256 else None, e.sha256, e.size,
                              e.ref, e.ref_digest) for e in entries],
                )
                await q.set_alias(conn, art["id"], "latest", version["id"])
            else:
                version = newest
            assert version is not None
            for a in aliases:
                await q.set_alias(conn, art["id"], a, version["id"])
            names = (await q.aliases_of(conn, [version["id"]])).get(version["id"], [])
    return {**_version_out(art, version, names, proj), "created": created}


@router.get("/{name}")
async def get_artifact(entity: str, project: str, name: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        versions = await conn.fetch(
            "SELECT * FROM artifact_versions WHERE artifact_id = $1 ORDER BY version", art["id"]
        )
        aliases = await q.aliases_of(conn, [v["id"] for v in versions])
    return {"name": art["name"], "type": art["type"], "description": art["description"],
            "created_at": iso(art["created_at"]),
            "versions": [_version_out(art, v, aliases.get(v["id"], []), proj) for v in versions]}


@router.get("/{name}/{version}")
async def get_version(entity: str, project: str, name: str, version: str, who: PrincipalDep,
                      pool: PoolDep) -> dict[str, Any]:
    """A version (by `vN` or alias) with its lineage: the run that logged it and the runs that used it."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
        out = _version_out(art, v, aliases, proj)
        out["created_by_run"] = await q.run_ref(conn, v["created_by_run"])
        out["used_by"] = await q.consumers(conn, v["id"])
    return out


def _file_out(row: asyncpg.Record) -> dict[str, Any]:
    if row["ref_uri"] is not None:
        return {"path": row["path"], "ref": row["ref_uri"], "digest": row["ref_digest"], "size": row["size"]}
    out = {"path": row["path"], "sha256": row["sha256"], "size": row["size"]}
    if "md5" in row.keys() and row["md5"]:
        out["md5"] = row["md5"]  # the W&B protocol's file digests are MD5s
    return out


@router.get("/{name}/{version}/files")
async def version_files(entity: str, project: str, name: str, version: str, who: PrincipalDep, pool: PoolDep,
                        storage: StorageDep, urls: bool = False, limit: int = Query(1000, ge=1, le=10_000),
                        offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """The manifest, paged; with `urls=true` each stored file carries a presigned GET `url`."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        rows = await q.files(conn, v["id"], limit, offset)
    out = []
    for r in rows:
        item = _file_out(r)
        if urls and r["key"] is not None:
            item["url"] = storage.presign_get(r["key"])
        out.append(item)
    if urls:
        metrics.PRESIGNED.labels("get").inc(sum(1 for r in rows if r["key"] is not None))
    return {"version": f"v{v['version']}", "digest": v["digest"], "files": out, "total": v["file_count"],
            "expires_in": storage.ttl if urls else None}


@router.get("/{name}/{version}/files/{path:path}", response_model=None)
async def version_file(entity: str, project: str, name: str, version: str, path: str, who: PrincipalDep,
                       pool: PoolDep, storage: StorageDep, redirect: bool = False) -> Response | dict[str, Any]:
    clean_path(path)
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        row = await conn.fetchrow(
            """SELECT f.path, f.sha256, f.size, f.ref_uri, f.ref_digest, o.key, o.md5 FROM artifact_files f
                 LEFT JOIN storage_objects o ON o.id = f.object_id WHERE f.version_id = $1 AND f.path = $2""",
            v["id"], path,
        )
    if row is None:
        raise NotFound(f"{path!r} is not in {name}:v{v['version']}")
    item = _file_out(row)
    if row["key"] is None:
        return item
    url = storage.presign_get(row["key"], filename=path.rsplit("/", 1)[-1], attachment=True)
    metrics.PRESIGNED.labels("get").inc()
    if redirect:
        return RedirectResponse(url, status_code=307)
    return {**item, "url": url, "expires_in": storage.ttl}


async def _run_for_use(conn: asyncpg.Connection, who: Principal, proj: ProjectRef, body: UseIn) -> int:
    ent = body.run.entity or proj.entity
    prj = body.run.project or proj.name
    run_proj = await project_for_write(conn, who, ent, prj)
    return await run_pk(conn, run_proj, body.run.run_id)


@router.post("/{name}/{version}/use")
async def use_version(entity: str, project: str, name: str, version: str, body: UseIn, who: PrincipalDep,
                      pool: PoolDep) -> dict[str, Any]:
    """Record that a run (which the caller may write) used this version; answers the version."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        pk = await _run_for_use(conn, who, proj, body)
        await conn.execute(
            """INSERT INTO artifact_usage (version_id, run_id) VALUES ($1, $2)
               ON CONFLICT (version_id, run_id) DO UPDATE SET used_at = now()""",
            v["id"], pk,
        )
        aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
    return _version_out(art, v, aliases, proj)


@router.put("/{name}/aliases/{alias}")
async def put_alias(entity: str, project: str, name: str, alias: str, body: AliasIn, who: PrincipalDep,
                    pool: PoolDep) -> dict[str, Any]:
    if alias == "latest":
        raise InvalidArgument("`latest` always names the newest version; it cannot be moved")
    clean_alias(alias)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, body.version)
        await q.set_alias(conn, art["id"], alias, v["id"])
    return {"alias": alias, "version": f"v{v['version']}"}


@router.delete("/{name}/aliases/{alias}", status_code=204)
async def delete_alias(entity: str, project: str, name: str, alias: str, who: PrincipalDep,
                       pool: PoolDep) -> Response:
    if alias == "latest":
        raise InvalidArgument("`latest` always names the newest version; it cannot be removed")
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        done = await conn.fetchval(
            "DELETE FROM artifact_aliases WHERE artifact_id = $1 AND alias = $2 RETURNING 1", art["id"], alias
        )
    if not done:
        raise NotFound(f"alias {alias!r} not found on {name}")
    return Response(status_code=204)


@router.delete("/{name}/{version}", status_code=204)
async def delete_version(entity: str, project: str, name: str, version: str, who: PrincipalDep, pool: PoolDep,
                         delete_aliases: bool = False) -> Response:
    """Delete a version; its bytes go with the next GC once nothing else refers to them.

    A version that still has aliases other than `latest` is kept unless `delete_aliases=true`;
    `latest` moves to the newest remaining version.
    """
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        async with conn.transaction():
            art = await conn.fetchrow(
                "SELECT * FROM artifacts WHERE project_id = $1 AND name = $2 FOR UPDATE", proj.id, name
            )
            if art is None:
                raise NotFound(f"artifact {name!r} not found")
            v = await q.resolve(conn, art, version)
            aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
            others = [a for a in aliases if a != "latest"]
            if others and not delete_aliases:
                raise FailedPrecondition(
                    f"{name}:v{v['version']} still has aliases {others}; pass delete_aliases=true to delete anyway"
                )
            await conn.execute("DELETE FROM artifact_versions WHERE id = $1", v["id"])
            if "latest" in aliases:
                newest = await q.newest_version(conn, art["id"])
                if newest is not None:
                    await q.set_alias(conn, art["id"], "latest", newest["id"])
    return Response(status_code=204)
