"""`/healthz` (process alive), `/readyz` (database and bucket answer), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import PoolDep, StorageDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(pool: PoolDep, storage: StorageDep) -> JSONResponse:
    try:
        async with asyncio.timeout(2.0):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database: {type(exc).__name__}",
                             "code": "unavailable"}, status_code=503)
    try:
        async with asyncio.timeout(3.0):
            await storage.ensure_bucket()
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": f"bucket: {type(exc).__name__}",
                             "code": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
