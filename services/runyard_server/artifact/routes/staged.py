"""Staged uploads (staging.py): upload first, adopt after, for clients that cannot declare a sha256.

    POST /api/v1/runs/{entity}/{project}/{run_id}/files/_staged          {"paths": [...]}
         -> {"files": [{"path", "url", "headers", "expires_in"}]}           a presigned PUT per path
    POST /api/v1/runs/{entity}/{project}/{run_id}/files/_staged/commit   {"paths": [...]}
         -> {"files": [{"path", "state": "ready", "sha256", "size", ...} | {"path", "state": "missing"}]}
    POST /api/v1/artifacts/{entity}/{project}/_staged                     {"objects": [{"md5", "size"?} | {"name"}]}
         -> {"objects": [{"md5", "state": "ready", "sha256", "size"} | {"md5", "state": "pending", "url", "headers"}
                         | {"name", "state": "scratch", "url", "get_url", "headers"}]}
    POST /api/v1/artifacts/{entity}/{project}/_staged/commit              {"objects": [{"md5"}]}
         -> {"objects": [{"md5", "state": "ready", "sha256", "size"} | {"md5", "state": "missing"}]}

Write access to the project (verifier.project_for_write) for all four; a run file commit records the
adopted bytes as the run's file at that path (as `POST .../files` does), an artifact commit only stores
the object (the version is then created with its sha256 through the ordinary `POST .../{name}/versions`).
A `name` instead of an MD5 is a scratch document of the project (a protocol's bookkeeping, e.g. a
manifest being assembled): a PUT and a GET URL for the same staging key, never adopted, deleted by the
GC after its grace period. Bytes "already stored" by MD5 are only the caller's own (queries.objects.own_by_md5).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter

from ...common.errors import InvalidArgument
from .. import metrics, staging, uploads
from ..access import project_for_write, run_pk
from ..deps import PoolDep, PrincipalDep, SettingsDep, StorageDep
from ..names import clean_path, content_type, md5_hex
from ..queries import objects as objects_q
from ..queries import run_files as q
from ..schemas import (
    ERROR_RESPONSES,
    StagedFilesOut,
    StagedFileStatesOut,
    StagedObjectsIn,
    StagedObjectsOut,
    StagedPathsIn,
)

router = APIRouter(tags=["staged uploads"], responses=ERROR_RESPONSES)


def _guess_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return content_type(guessed or "application/octet-stream")


@router.post("/api/v1/runs/{entity}/{project}/{run_id}/files/_staged", response_model=StagedFilesOut)
async def stage_run_files(entity: str, project: str, run_id: str, body: StagedPathsIn, who: PrincipalDep,
                          pool: PoolDep, storage: StorageDep) -> dict[str, Any]:
    """Presigned PUT URLs for files of a run whose digests are not known yet."""
    for path in body.paths:
        clean_path(path)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
    out = []
    for path in body.paths:
        url, headers = storage.presign_put_staged(staging.run_file_key(proj.entity_id, pk, path))
        out.append({"path": path, "url": url, "headers": headers, "expires_in": storage.ttl})
    metrics.PRESIGNED.labels("put").inc(len(out))
    return {"files": out}


@router.post("/api/v1/runs/{entity}/{project}/{run_id}/files/_staged/commit", response_model=StagedFileStatesOut,
             response_model_exclude_unset=True)
async def commit_staged_run_files(entity: str, project: str, run_id: str, body: StagedPathsIn, who: PrincipalDep,
                                  pool: PoolDep, storage: StorageDep, settings: SettingsDep) -> dict[str, Any]:
    """Adopt the newest staged upload of each path and record it as the run's file (latest wins)."""
    for path in body.paths:
        clean_path(path)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
    out: list[dict[str, Any]] = []
    for path in dict.fromkeys(body.paths):
        newest, keys = await staging.newest_staged(storage, staging.run_file_prefix(proj.entity_id, pk, path))
        adopted = None
        if newest is not None:
            adopted = await staging.adopt(pool, storage, settings, who, proj.entity_id, newest)
        if newest is None or adopted is None:
            out.append({"path": path, "state": "missing"})
            continue
        async with pool.acquire() as conn, conn.transaction():
            objs = await uploads.claim_ready(conn, proj.entity_id, [adopted.sha256], who.user_id)
            record = await q.upsert(conn, pk, path, objs[adopted.sha256]["id"], adopted.size, adopted.sha256,
                                    _guess_type(path), who.user_id)
        # the adopted upload and every older one are done; a newer upload (still in flight) stays
        await storage.delete([k for k in keys if k <= newest])
        out.append({**q.record(record), "state": "ready", "md5": adopted.md5})
    return {"files": out}


@router.post("/api/v1/artifacts/{entity}/{project}/_staged", response_model=StagedObjectsOut,
             response_model_exclude_unset=True)
async def stage_artifact_objects(entity: str, project: str, body: StagedObjectsIn, who: PrincipalDep,
                                 pool: PoolDep, storage: StorageDep) -> dict[str, Any]:
    """For each MD5: the caller's stored object with these bytes (nothing to send), or a PUT URL signing the
    MD5. For each name: PUT and GET URLs of a scratch document."""
    for i, o in enumerate(body.objects):
        if (o.md5 is None) == (o.name is None):
            raise InvalidArgument(f"objects[{i}] needs exactly one of md5 and name")
    md5s = [md5_hex(o.md5) for o in body.objects if o.md5 is not None]
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        rows = await objects_q.own_by_md5(conn, proj.entity_id, md5s, who.user_id) if md5s else []
    stored: dict[str, list[Any]] = {}
    for r in rows:
        stored.setdefault(r["md5"], []).append(r)
    out: list[dict[str, Any]] = []
    for obj in body.objects:
        if obj.name is not None:
            key = staging.scratch_key(proj.entity_id, proj.id, obj.name)
            url, headers = storage.presign_put_staged(key)
            out.append({"name": obj.name, "state": "scratch", "url": url, "headers": headers,
                        "get_url": storage.presign_get(key), "expires_in": storage.ttl})
            continue
        md5 = md5_hex(str(obj.md5))
        match = [r for r in stored.get(md5, []) if obj.size is None or r["size"] == obj.size]
        if match:
            metrics.OBJECTS.labels("dedup").inc()
            out.append({"md5": md5, "state": "ready", "sha256": match[0]["sha256"], "size": match[0]["size"]})
            continue
        url, headers = storage.presign_put_staged(staging.artifact_key(proj.entity_id, md5), md5_hex=md5)
        metrics.PRESIGNED.labels("put").inc()
        out.append({"md5": md5, "state": "pending", "url": url, "headers": headers, "expires_in": storage.ttl})
    return {"objects": out}


@router.post("/api/v1/artifacts/{entity}/{project}/_staged/commit", response_model=StagedObjectsOut,
             response_model_exclude_unset=True)
async def commit_staged_artifact_objects(entity: str, project: str, body: StagedObjectsIn, who: PrincipalDep,
                                         pool: PoolDep, storage: StorageDep, settings: SettingsDep) -> dict[str, Any]:
    """Adopt staged artifact files by MD5 (a file the caller stored before is found by its MD5 and size)."""
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
    out = []
    for i, obj in enumerate(body.objects):
        if obj.md5 is None:
            raise InvalidArgument(f"objects[{i}]: only MD5-named objects are adopted (scratch documents are not)")
        md5 = md5_hex(obj.md5)
        key = staging.artifact_key(proj.entity_id, md5)
        adopted = await staging.adopt(pool, storage, settings, who, proj.entity_id, key, expect_md5=md5)
        if adopted is not None:
            await storage.delete([key])
            out.append({"md5": md5, **staging.describe(adopted)})
            continue
        async with pool.acquire() as conn:
            rows = await objects_q.own_by_md5(conn, proj.entity_id, [md5], who.user_id)
        match = [r for r in rows if obj.size is None or r["size"] == obj.size]
        if not match:
            out.append({"md5": md5, "state": "missing"})
        else:
            out.append({"md5": md5, "state": "ready", "sha256": match[0]["sha256"], "size": match[0]["size"]})
    return {"objects": out}
