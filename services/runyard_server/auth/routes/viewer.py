"""`GET /api/v1/viewer`: who the credentials belong to (the SDK checks keys with it)."""

from __future__ import annotations

from fastapi import APIRouter

from ...common.errors import Unauthenticated
from ..deps import PoolDep, PrincipalDep
from ..queries.users import viewer as viewer_row
from ..schemas import ERROR_RESPONSES, ViewerOut

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.get("/api/v1/viewer", response_model=ViewerOut)
async def viewer(who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    async with pool.acquire() as conn:
        row = await viewer_row(conn, who.user_id)
        if row is None:
            raise Unauthenticated("the account of these credentials no longer exists")
        entity = row["entity"]
        if who.service_team_id is not None:  # a service account's runs go to its team by default
            entity = await conn.fetchval("SELECT name FROM entities WHERE id = $1", who.service_team_id)
    return {"username": row["username"], "entity": entity, "is_admin": row["is_admin"]}
