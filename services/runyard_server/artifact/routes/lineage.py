"""`GET /api/v1/runs/{entity}/{project}/{run_id}/artifacts`: what a run logged and used."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...common.verifier import readable_scope
from ..access import project_read, run_pk
from ..deps import PoolDep, PrincipalDep

router = APIRouter(tags=["artifacts"])

_SELECT = """SELECT e.name AS entity, p.name AS project, a.name, a.type, v.version, v.digest, v.size, v.created_at
               FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id
               JOIN projects p ON p.id = a.project_id JOIN entities e ON e.id = p.entity_id"""


def _out(r: Any) -> dict[str, Any]:
    return {"entity": r["entity"], "project": r["project"], "name": r["name"], "type": r["type"],
            "version": f"v{r['version']}", "digest": r["digest"], "size": r["size"],
            "qualified_name": f"{r['entity']}/{r['project']}/{r['name']}:v{r['version']}"}


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/artifacts")
async def run_artifacts(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Versions the run logged and versions it used (lineage). Versions in projects the caller may not
    read are left out of `used`."""
    async with pool.acquire() as conn:
        proj = await project_read(conn, who, entity, project)
        pk = await run_pk(conn, proj, run_id)
        scope = await readable_scope(conn, who)
        logged = await conn.fetch(_SELECT + " WHERE v.created_by_run = $1 ORDER BY v.created_at", pk)
        used = await conn.fetch(
            _SELECT + """ JOIN artifact_usage u ON u.version_id = v.id WHERE u.run_id = $1
                          AND (p.visibility = 'internal' OR p.entity_id = ANY($2::bigint[]) OR $3)
                        ORDER BY u.used_at""",
            pk, list(scope.entity_ids), scope.everything,
        )
    return {"logged": [_out(r) for r in logged], "used": [_out(r) for r in used]}
