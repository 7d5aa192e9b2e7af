"""`/healthz` (process alive), `/readyz` (database answers within 2 s), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import PoolDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(pool: PoolDep) -> JSONResponse:
    async def ping() -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    try:
        await asyncio.wait_for(ping(), timeout=2.0)
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"status": "unavailable", "detail": f"database: {type(exc).__name__}",
                             "code": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
