"""Alerts of a run: `POST /api/v1/runs/{entity}/{project}/{run_id}/alerts` (what `runyard.alert()` sends;
writers of the project) and `GET` of the same path (readers), newest first.

An alert is stored with its title, text, level (INFO, WARN, ERROR) and the run's step when it was raised,
and shown on the run's page. `wait_duration` (W&B's rate limit per title) is applied by the SDK; the
server keeps at most MAX_PER_RUN alerts per run and refuses more (413), so a loop cannot fill the table.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ...common.errors import NotFound, ResourceExhausted
from ...common.formats import iso
from ...common.verifier import project_for_read, project_for_write
from ...http.schemas import error_responses
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.runs import run_pk

router = APIRouter(tags=["runs"], responses=error_responses(400, 401, 403, 404, 413, 422))

MAX_PER_RUN = 10_000


class AlertIn(BaseModel):
    title: str = Field(min_length=1, max_length=256)
    text: str = Field(default="", max_length=10_000)
    level: Literal["INFO", "WARN", "ERROR"] = "INFO"
    step: int | None = Field(default=None, ge=0, le=2**63 - 1)


class AlertOut(AlertIn):
    id: int
    created_by: str | None
    created_at: str


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
    total: int


def _alert_json(r: object) -> dict[str, object]:
    return {"id": r["id"], "title": r["title"], "text": r["text"], "level": r["level"],  # type: ignore[index]
            "step": r["step"], "created_by": r["username"], "created_at": iso(r["created_at"])}  # type: ignore[index]


@router.post("/api/v1/runs/{entity}/{project}/{run_id}/alerts", response_model=AlertOut, status_code=201)
async def add_alert(entity: str, project: str, run_id: str, body: AlertIn, who: PrincipalDep,
                    pool: PoolDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction():
        p = await project_for_write(conn, who, entity, project)
        pk = await run_pk(conn, p["id"], run_id)
        if pk is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        await conn.execute("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", pk)  # count and insert in step
        if await conn.fetchval("SELECT count(*) FROM run_alerts WHERE run_id = $1", pk) >= MAX_PER_RUN:
            raise ResourceExhausted(f"run {entity}/{project}/{run_id} already has {MAX_PER_RUN} alerts")
        row = await conn.fetchrow(
            """WITH a AS (INSERT INTO run_alerts (run_id, title, text, level, step, created_by)
                          VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
               SELECT a.*, u.username FROM a LEFT JOIN users u ON u.id = a.created_by""",
            pk, body.title, body.text, body.level, body.step, who.user_id,
        )
    return RunyardJSONResponse(_alert_json(row), status_code=201)


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/alerts", response_model=AlertsOut)
async def list_alerts(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0)] = 0) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        pk = await run_pk(conn, p["id"], run_id)
        if pk is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        rows = await conn.fetch(
            """SELECT a.*, u.username FROM run_alerts a LEFT JOIN users u ON u.id = a.created_by
                WHERE a.run_id = $1 ORDER BY a.id DESC LIMIT $2 OFFSET $3""", pk, limit, offset)
        total = await conn.fetchval("SELECT count(*) FROM run_alerts WHERE run_id = $1", pk)
    return RunyardJSONResponse({"alerts": [_alert_json(r) for r in rows], "total": int(total)})
