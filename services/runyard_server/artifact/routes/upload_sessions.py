"""Upload sessions shared by run files and artifacts: `/api/v1/artifacts/_uploads/{upload_id}...`.

`_uploads` cannot be an entity name (names start with a letter or digit), so these never shadow
`/api/v1/artifacts/{entity}/...`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import metrics, uploads
from ..deps import PoolDep, PrincipalDep, StorageDep
from ..schemas import ERROR_RESPONSES, CompleteIn, PartsIn, PartUrlsOut, UploadState

router = APIRouter(prefix="/api/v1/artifacts/_uploads/{upload_id}", tags=["uploads"], responses=ERROR_RESPONSES)


@router.get("", response_model=UploadState, response_model_exclude_unset=True)
async def upload_status(upload_id: str, who: PrincipalDep, pool: PoolDep, storage: StorageDep) -> dict[str, Any]:
    """State of an upload; for multipart, the parts the bucket already holds (ListParts)."""
    return await uploads.status(pool, storage, who, upload_id)


@router.post("/parts", response_model=PartUrlsOut)
async def part_urls(upload_id: str, body: PartsIn, who: PrincipalDep, pool: PoolDep,
                    storage: StorageDep) -> dict[str, Any]:
    """Presigned PUT URLs for parts; each signs the part's Content-MD5, which the client must send."""
    return {"parts": await uploads.part_urls(pool, storage, who, upload_id, [p.model_dump() for p in body.parts])}


@router.post("/complete", response_model=UploadState, response_model_exclude_unset=True)
async def complete(upload_id: str, body: CompleteIn, who: PrincipalDep, pool: PoolDep,
                   storage: StorageDep) -> dict[str, Any]:
    """Verify the bytes in the bucket against the declaration and mark the object ready (idempotent)."""
    return await uploads.complete(pool, storage, who, upload_id, body.parts)


@router.delete("", status_code=204)
async def abort(upload_id: str, who: PrincipalDep, pool: PoolDep, storage: StorageDep) -> Response:
    await uploads.abort(pool, storage, who, upload_id)
    metrics.OBJECTS.labels("aborted").inc()
    return Response(status_code=204)
