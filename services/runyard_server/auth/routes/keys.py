"""The caller's own API keys: `GET/POST /api/v1/auth/keys`, `DELETE /api/v1/auth/keys/{key_id}`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...common.errors import NotFound
from ...common.formats import iso
from .. import admin
from ..deps import AddressDep, KeyCacheDep, PoolDep, PrincipalDep
from ..queries import keys as qk
from ..schemas import ERROR_RESPONSES, KeyIn, KeyList, NewKeyOut

router = APIRouter(tags=["api keys"], responses=ERROR_RESPONSES)


@router.get("/api/v1/auth/keys", response_model=KeyList)
async def list_keys(who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    """Live (not revoked) keys of the caller: prefix, name, created, last used (refreshed at most once
    a minute). The keys themselves are never shown again."""
    async with pool.acquire() as conn:
        rows = await qk.list_keys(conn, who.user_id)
    return {"keys": [{"id": r["id"], "prefix": r["prefix"], "name": r["name"], "created_at": iso(r["created_at"]),
                      "last_used_at": iso(r["last_used_at"])} for r in rows]}


@router.post("/api/v1/auth/keys", status_code=201, response_model=NewKeyOut)
async def create_key(body: KeyIn, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> dict[str, object]:
    """A new named key for the caller; `api_key` is shown only in this answer."""
    async with pool.acquire() as conn, conn.transaction():
        key = await admin.create_key(conn, who, who.user_id, body.name, address=address)
    return {"id": key.id, "prefix": key.prefix, "name": key.name, "api_key": key.api_key}


@router.delete("/api/v1/auth/keys/{key_id}", status_code=204)
async def revoke_key(key_id: int, who: PrincipalDep, pool: PoolDep, cache: KeyCacheDep,
                     address: AddressDep) -> Response:
    """Revoke one of the caller's keys (instance admins: any key). It stops working at once in the HTTP
    services (cache invalidated) and within 2 s on open ingest streams."""
    async with pool.acquire() as conn, conn.transaction():
        row = await qk.key_row(conn, key_id) if -2**63 <= key_id < 2**63 else None
        if row is None or row["revoked_at"] is not None:
            raise NotFound("API key not found")
        key_hash = await admin.revoke_key(conn, who, row, address)
    if key_hash is not None and cache is not None:
        await cache.invalidate([key_hash])
    return Response(status_code=204)
