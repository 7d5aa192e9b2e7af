"""`/healthz` (process alive), `/readyz` (database and bucket answer), `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...http import health
from ..deps import PoolDep, StorageDep

router = APIRouter(include_in_schema=False)
router.add_api_route("/healthz", health.healthz, methods=["GET"])
router.add_api_route("/metrics", health.metrics, methods=["GET"])


@router.get("/readyz")
async def readyz(pool: PoolDep, storage: StorageDep) -> JSONResponse:
    try:
        await health.ping_database(pool)
    except Exception as exc:  # any failure means not ready; say which
        return health.unavailable("database", exc)
    try:
        async with asyncio.timeout(3.0):
            await storage.ensure_bucket()
    except Exception as exc:
        return health.unavailable("bucket", exc)
    return JSONResponse({"status": "ok"})
