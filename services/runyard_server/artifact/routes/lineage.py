"""`GET /api/v1/runs/{entity}/{project}/{run_id}/artifacts`: what a run logged and used."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter

from ...common.verifier import readable_scope
from ..access import project_read, run_pk
from ..deps import PoolDep, PrincipalDep
from ..queries import artifacts as q
from ..schemas import ERROR_RESPONSES, RunArtifacts

router = APIRouter(tags=["artifacts"], responses=ERROR_RESPONSES)


def _out(r: asyncpg.Record) -> dict[str, Any]:
    return {"entity": r["entity"], "project": r["project"], "name": r["name"], "type": r["type"],
            "version": f"v{r['version']}", "digest": r["digest"], "size": r["size"],
            "qualified_name": f"{r['entity']}/{r['project']}/{r['name']}:v{r['version']}"}


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/artifacts", response_model=RunArtifacts)
async def run_artifacts(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Versions the run logged and versions it used (lineage). Versions in projects the caller may not
    read are left out of `used`."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        scope = await readable_scope(conn, who)
        logged = await q.logged_by(conn, pk)
        used = await q.used_by(conn, pk, list(scope.entity_ids), scope.everything)
    return {"logged": [_out(r) for r in logged], "used": [_out(r) for r in used]}
