"""Artifacts: `/api/v1/artifacts/{entity}/{project}/...` (log, use, download, aliases, lineage, storage)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ...common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ...common.formats import iso
from ...common.limits import INT64_MAX
from ...common.verifier import Principal, readable_scope
from .. import manifest, metrics, uploads
from ..access import ProjectRef, project_for_write, project_read, run_pk
from ..deps import PoolDep, PrincipalDep, SettingsDep, StorageDep
from ..names import alias as clean_alias
from ..names import artifact_name, artifact_type, clean_path
from ..queries import artifacts as q
from ..schemas import (
    ERROR_RESPONSES,
    AliasIn,
    AliasOut,
    ArtifactList,
    ArtifactOut,
    LoggedVersion,
    ManifestFileLink,
    ObjectUploadsIn,
    ObjectUploadsOut,
    StorageOut,
    UseIn,
    Version,
    VersionDetail,
    VersionFiles,
    VersionIn,
    VersionPatch,
)

router = APIRouter(prefix="/api/v1/artifacts/{entity}/{project}", tags=["artifacts"], responses=ERROR_RESPONSES)
MAX_METADATA_BYTES = 100_000


def _version_out(art: asyncpg.Record, v: asyncpg.Record, aliases: list[str], proj: ProjectRef) -> dict[str, Any]:
    return {
        "entity": proj.entity, "project": proj.name, "name": art["name"], "type": art["type"],
        "version": f"v{v['version']}", "version_index": v["version"], "digest": v["digest"],
        "size": v["size"], "file_count": v["file_count"], "description": v["description"],
        "metadata": v["metadata"], "aliases": aliases, "created_at": iso(v["created_at"]),
        "qualified_name": f"{proj.entity}/{proj.name}/{art['name']}:v{v['version']}",
    }


@router.post("/_uploads", response_model=ObjectUploadsOut, response_model_exclude_unset=True)
async def begin_object_uploads(entity: str, project: str, body: ObjectUploadsIn, who: PrincipalDep, pool: PoolDep,
                               storage: StorageDep, settings: SettingsDep) -> dict[str, Any]:
    """Start or resume uploads of artifact files; objects already stored come back `ready`."""
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
    items = uploads.validate_requests([o.model_dump() for o in body.objects], settings)
    return {"objects": await uploads.begin(pool, storage, settings, who, proj.entity_id, items)}


@router.get("/_storage", response_model=StorageOut)
async def storage_used(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Bytes the project's run files and artifact versions hold (distinct objects, so dedup counts once)."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        used = await q.storage_used(conn, proj.id)
    return {"entity": proj.entity, "project": proj.name, **used}


@router.get("", response_model=ArtifactList)
async def list_artifacts(entity: str, project: str, who: PrincipalDep, pool: PoolDep,
                         type: str | None = None) -> dict[str, Any]:
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        rows = await q.list_artifacts(conn, proj.id, type)
    return {"artifacts": [{"name": r["name"], "type": r["type"], "description": r["description"],
                           "version_count": r["version_count"], "latest": r["latest"],
                           "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"])}
                          for r in rows]}


@router.post("/{name}/versions", response_model=LoggedVersion)
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
    created_at = body.created_at
    if created_at is not None:
        if created_at.tzinfo is None:
            raise InvalidArgument("created_at needs a time zone (e.g. 2026-11-30T21:50:00Z)")
        if created_at > datetime.now(timezone.utc) + timedelta(minutes=5):
            raise InvalidArgument(f"created_at {iso(created_at)} is in the future")
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        producer = await run_pk(conn, proj, body.run_id) if body.run_id else None
        async with conn.transaction():
            objs = await uploads.claim_ready(conn, proj.entity_id, [e.sha256 for e in entries if e.sha256],
                                              who.user_id)
            for e in entries:
                if e.sha256 and objs[e.sha256]["size"] != e.size:
                    raise InvalidArgument(f"{e.path}: size {e.size} differs from the stored object's {objs[e.sha256]['size']}")
            art = await q.lock_or_create(conn, proj.id, name, body.type, body.description)
            if art["type"] != body.type:
                raise AlreadyExists(f"artifact {name!r} exists with type {art['type']!r}, not {body.type!r}")
            newest = await q.newest_version(conn, art["id"])
            created = newest is None or newest["digest"] != digest
            if created:
                version = await q.create_version(
                    conn, art, digest=digest, size=sum(e.size or 0 for e in entries), description=body.description,
                    metadata=body.metadata, run_pk=producer, user_id=who.user_id, created_at=created_at,
                    files=[(e.path, objs[e.sha256]["id"] if e.sha256 else None, e.sha256, e.size, e.ref, e.ref_digest)
                           for e in entries],
                )
                await q.set_alias(conn, art["id"], "latest", version["id"])
            else:
                version = newest
            assert version is not None
            for a in aliases:
                await q.set_alias(conn, art["id"], a, version["id"])
            names = (await q.aliases_of(conn, [version["id"]])).get(version["id"], [])
    return {**_version_out(art, version, names, proj), "created": created}


@router.get("/{name}", response_model=ArtifactOut)
async def get_artifact(entity: str, project: str, name: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        versions = await q.versions(conn, art["id"])
        aliases = await q.aliases_of(conn, [v["id"] for v in versions])
    return {"name": art["name"], "type": art["type"], "description": art["description"],
            "created_at": iso(art["created_at"]),
            "versions": [_version_out(art, v, aliases.get(v["id"], []), proj) for v in versions]}


@router.get("/{name}/{version}", response_model=VersionDetail)
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
        # lineage is filtered by what the caller may read, like the run's own lineage (routes/lineage.py)
        scope = await readable_scope(conn, who)
        out["used_by"] = await q.consumers(conn, v["id"], list(scope.entity_ids), scope.everything)
    return out


@router.patch("/{name}/{version}", response_model=Version)
async def patch_version(entity: str, project: str, name: str, version: str, body: VersionPatch, who: PrincipalDep,
                        pool: PoolDep) -> dict[str, Any]:
    """Change a version's description and/or metadata (writers; `Artifact.save()` of the SDK). The files,
    and so the digest, never change. Access is settled before the body is looked at (404 whatever was sent)."""
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)  # first: nobody learns anything of others'
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        if body.description is None and body.metadata is None:
            raise InvalidArgument("nothing to change: send `description` and/or `metadata`")
        if body.metadata is not None and len(json.dumps(body.metadata, default=str)) > MAX_METADATA_BYTES:
            raise InvalidArgument(f"metadata is larger than {MAX_METADATA_BYTES} bytes of JSON")
        row = await q.update_version(conn, v["id"], body.description, body.metadata)
        aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
    return _version_out(art, row, aliases, proj)


def _file_out(row: asyncpg.Record) -> dict[str, Any]:
    if row["ref_uri"] is not None:
        return {"path": row["path"], "ref": row["ref_uri"], "digest": row["ref_digest"], "size": row["size"]}
    out = {"path": row["path"], "sha256": row["sha256"], "size": row["size"]}
    if "md5" in row.keys() and row["md5"]:
        out["md5"] = row["md5"]  # the W&B protocol's file digests are MD5s
    return out


@router.get("/{name}/{version}/files", response_model=VersionFiles, response_model_exclude_unset=True)
async def version_files(entity: str, project: str, name: str, version: str, who: PrincipalDep, pool: PoolDep,
                        storage: StorageDep, urls: bool = False, limit: int = Query(1000, ge=1, le=10_000),
                        offset: int = Query(0, ge=0, le=INT64_MAX)) -> dict[str, Any]:
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
            item["url"] = storage.presign_get(r["key"], content_type="application/octet-stream", attachment=True)
        out.append(item)
    if urls:
        metrics.PRESIGNED.labels("get").inc(sum(1 for r in rows if r["key"] is not None))
    return {"version": f"v{v['version']}", "digest": v["digest"], "files": out, "total": v["file_count"],
            "expires_in": storage.ttl if urls else None}


@router.get("/{name}/{version}/files/{path:path}", response_model=ManifestFileLink, response_model_exclude_unset=True,
            responses={307: {"description": "redirect=true: to the presigned GET URL"}})
async def version_file(entity: str, project: str, name: str, version: str, path: str, who: PrincipalDep,
                       pool: PoolDep, storage: StorageDep, redirect: bool = False) -> Response | dict[str, Any]:
    clean_path(path)
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        row = await q.file(conn, v["id"], path)
    if row is None:
        raise NotFound(f"{path!r} is not in {name}:v{v['version']}")
    item = _file_out(row)
    if row["key"] is None:
        return item
    # an artifact's files have no declared type: never rendered from the bucket (artifact/serving.py)
    url = storage.presign_get(row["key"], content_type="application/octet-stream", filename=path.rsplit("/", 1)[-1],
                              attachment=True)
    metrics.PRESIGNED.labels("get").inc()
    if redirect:
        return RedirectResponse(url, status_code=307)
    return {**item, "url": url, "expires_in": storage.ttl}


async def _run_for_use(conn: asyncpg.Connection, who: Principal, proj: ProjectRef, body: UseIn) -> int:
    ent = body.run.entity or proj.entity
    prj = body.run.project or proj.name
    run_proj = await project_for_write(conn, who, ent, prj)
    return await run_pk(conn, run_proj, body.run.run_id)


@router.post("/{name}/{version}/use", response_model=Version)
async def use_version(entity: str, project: str, name: str, version: str, body: UseIn, who: PrincipalDep,
                      pool: PoolDep) -> dict[str, Any]:
    """Record that a run (which the caller may write) used this version; answers the version."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        art = await q.get_artifact(conn, proj.id, name)
        v = await q.resolve(conn, art, version)
        pk = await _run_for_use(conn, who, proj, body)
        await q.record_use(conn, v["id"], pk)
        aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
    return _version_out(art, v, aliases, proj)


@router.put("/{name}/aliases/{alias}", response_model=AliasOut)
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
        done = await q.delete_alias(conn, art["id"], alias)
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
            art = await q.lock_artifact(conn, proj.id, name)
            v = await q.resolve(conn, art, version)
            aliases = (await q.aliases_of(conn, [v["id"]])).get(v["id"], [])
            others = [a for a in aliases if a != "latest"]
            if others and not delete_aliases:
                raise FailedPrecondition(
                    f"{name}:v{v['version']} still has aliases {others}; pass delete_aliases=true to delete anyway"
                )
            await q.delete_version(conn, v["id"])
            if "latest" in aliases:
                newest = await q.newest_version(conn, art["id"])
                if newest is not None:
                    await q.set_alias(conn, art["id"], "latest", newest["id"])
    return Response(status_code=204)
