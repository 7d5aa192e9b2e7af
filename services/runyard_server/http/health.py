"""`/healthz` (process alive), `/readyz` (database answers within 2 s), `/metrics` (Prometheus).

A service with more to check (the artifact service's bucket) builds its own `/readyz` from
`ping_database` and `unavailable`, and mounts `healthz` and `metrics` as they are.
"""

from __future__ import annotations

import asyncio

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import PoolDep

router = APIRouter(include_in_schema=False)


def unavailable(what: str, exc: BaseException) -> JSONResponse:
    """The 503 every `/readyz` answers, naming the part that failed (`database: TimeoutError`)."""
    return JSONResponse({"status": "unavailable", "detail": f"{what}: {type(exc).__name__}",
                         "code": "unavailable"}, status_code=503)


async def ping_database(pool: asyncpg.Pool, timeout: float = 2.0) -> None:
    """Raises when the database does not answer `SELECT 1` within `timeout` seconds."""
    async with asyncio.timeout(timeout):
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(pool: PoolDep) -> JSONResponse:
    try:
        await ping_database(pool)
    except Exception as exc:  # any failure means not ready; say which
        return unavailable("database", exc)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
