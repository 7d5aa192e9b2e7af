"""Run files: `/api/v1/runs/{entity}/{project}/{run_id}/files...`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ...common.errors import InvalidArgument, NotFound
from ...common.formats import iso
from ...common.limits import INT64_MAX
from .. import metrics, uploads
from ..access import project_for_write, project_read, run_pk
from ..deps import PoolDep, PrincipalDep, SettingsDep, StorageDep
from ..names import clean_path, clean_prefix, content_type, sha256_hex
from ..queries import run_files as q
from ..schemas import (
    ERROR_RESPONSES,
    FileCommitsIn,
    FileList,
    FileUploadsIn,
    FileUploadsOut,
    RunFileLink,
    RunFilesOut,
)
from ..serving import served_as

router = APIRouter(prefix="/api/v1/runs/{entity}/{project}/{run_id}/files", tags=["run files"],
                   responses=ERROR_RESPONSES)


@router.post("/uploads", response_model=FileUploadsOut, response_model_exclude_unset=True)
async def begin_uploads(entity: str, project: str, run_id: str, body: FileUploadsIn, who: PrincipalDep,
                        pool: PoolDep, storage: StorageDep, settings: SettingsDep) -> dict[str, Any]:
    """Start (or resume) uploads of files of a run: each file is `ready` (already stored) or pending."""
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        await run_pk(conn, proj, run_id)
    for f in body.files:
        clean_path(f.path)
        content_type(f.content_type)
    items = uploads.validate_requests([f.model_dump() for f in body.files], settings)
    results = await uploads.begin(pool, storage, settings, who, proj.entity_id, items)
    return {"files": [{"path": f.path, **r} for f, r in zip(body.files, results, strict=True)]}


@router.post("", response_model=RunFilesOut)
async def commit_files(entity: str, project: str, run_id: str, body: FileCommitsIn, who: PrincipalDep,
                       pool: PoolDep) -> dict[str, Any]:
    """Record uploaded (or already stored) objects as files of the run; a path saved again is replaced."""
    for f in body.files:
        clean_path(f.path)
        sha256_hex(f.sha256)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        async with conn.transaction():
            objs = await uploads.claim_ready(conn, proj.entity_id, [f.sha256 for f in body.files], who.user_id)
            rows = []
            for f in body.files:
                o = objs[f.sha256]
                rows.append(await q.upsert(conn, pk, f.path, o["id"], o["size"], f.sha256,
                                           content_type(f.content_type), who.user_id))
    return {"files": [q.record(r) for r in rows]}


@router.get("", response_model=FileList)
async def list_files(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
                     prefix: str = "", recursive: bool = False, limit: int = Query(1000, ge=1, le=10_000),
                     offset: int = Query(0, ge=0, le=INT64_MAX)) -> dict[str, Any]:
    """The files and sub-folders directly under `prefix` (or every file below it with `recursive`)."""
    pfx = clean_prefix(prefix)
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        folders, files, total = await q.list_folder(conn, pk, pfx, recursive=recursive, limit=limit, offset=offset)
    return {
        "prefix": pfx,
        "folders": [{"name": f["name"], "path": pfx + f["name"] + "/", "file_count": f["file_count"],
                     "size": f["size"], "updated_at": iso(f["updated_at"])} for f in folders],
        "files": [q.record(f) for f in files],
        "total": total,
    }


@router.get("/{path:path}", response_model=RunFileLink,
            responses={307: {"description": "redirect=true: to the presigned GET URL"}})
async def get_file(entity: str, project: str, run_id: str, path: str, who: PrincipalDep, pool: PoolDep,
                   storage: StorageDep, redirect: bool = False, download: bool = False) -> Response | dict[str, Any]:
    """One file's record with a presigned GET `url`; `redirect=true` answers 307 to that URL (for <img>)."""
    try:
        clean_path(path)
    except InvalidArgument:
        raise NotFound(f"file {path!r} not found") from None
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        row = await q.get(conn, pk, path)
    if row is None:
        raise NotFound(f"file {path!r} not found in run {run_id}")
    ctype, attachment = served_as(row["content_type"], download=download)
    url = storage.presign_get(row["key"], content_type=ctype, filename=path.rsplit("/", 1)[-1], attachment=attachment)
    metrics.PRESIGNED.labels("get").inc()
    if redirect:
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, max-age=60"})
    return {**q.record(row), "url": url, "expires_in": storage.ttl}


@router.delete("/{path:path}", status_code=204)
async def delete_file(entity: str, project: str, run_id: str, path: str, who: PrincipalDep,
                      pool: PoolDep) -> Response:
    """Forget a file of the run; its bytes go with the next GC once nothing else refers to them."""
    clean_path(path)
    async with pool.acquire() as conn:
        proj = await project_for_write(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        if not await q.delete(conn, pk, path):
            raise NotFound(f"file {path!r} not found in run {run_id}")
    return Response(status_code=204)
