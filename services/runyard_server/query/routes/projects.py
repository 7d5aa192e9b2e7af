"""Projects: the list the caller may read, and one project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...common.errors import NotFound
from ...common.verifier import project_for_read, readable_scope
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.projects import list_projects, project_with_stats
from ..schemas import ERROR_RESPONSES, Project, ProjectList
from ..serialize import project_json

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


@router.get("/api/v1/projects", response_model=ProjectList)
async def projects(
    who: PrincipalDep, pool: PoolDep,
    entity: Annotated[str | None, Query(description="only this entity's projects")] = None,
) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        scope = await readable_scope(conn, who)
        rows = await list_projects(conn, scope, entity or None)
    return RunyardJSONResponse({"projects": [project_json(r) for r in rows]})


@router.get("/api/v1/projects/{entity}/{project}", response_model=Project)
async def project(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        p = await project_for_read(conn, who, entity, project)
        row = await project_with_stats(conn, p["id"])
    if row is None:
        raise NotFound(f"project {entity}/{project} not found")
    return RunyardJSONResponse(project_json(row))
