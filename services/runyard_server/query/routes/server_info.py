"""`GET /api/v1/server-info`: what a client needs before it has a key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ... import __version__
from ..deps import PoolDep, SettingsDep
from ..jsonresp import RunyardJSONResponse
from ..queries.server import needs_setup
from ..schemas import ERROR_RESPONSES, ServerInfo

router = APIRouter(tags=["server"], responses=ERROR_RESPONSES)


def ingest_address(request: Request, public: str, port: int) -> str:
    if public:
        return public
    host = request.url.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


@router.get("/api/v1/server-info", response_model=ServerInfo)
async def server_info(request: Request, pool: PoolDep, settings: SettingsDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn:
        setup = await needs_setup(conn)
    return RunyardJSONResponse({
        "version": __version__,
        "ingest_address": ingest_address(request, settings.public_ingest_address, settings.ingest_port),
        "ingest_tls": bool(settings.public_ingest_address and settings.public_ingest_tls),
        "needs_setup": setup,
    })
