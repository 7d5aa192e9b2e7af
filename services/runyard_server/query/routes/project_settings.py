"""`PATCH /api/v1/projects/{entity}/{project}`: visibility and description (admins of the entity).

It lives in the query service beside the GET of the same path, because Ingress and the front door route
by path; the decision is the shared verifier's (`project_for_manage`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...common import audit
from ...common.errors import InvalidArgument, NotFound
from ...common.limits import PROJECT_DESCRIPTION_MAX
from ...common.verifier import project_for_manage
from ..deps import AddressDep, PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.projects import project_with_stats, update_project
from ..schemas import ERROR_RESPONSES, Project
from ..serialize import project_json

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


class ProjectPatch(BaseModel):
    visibility: Literal["private", "internal"] | None = Field(
        default=None, description="private: members only; internal: every signed-in user may read")
    description: str | None = Field(default=None, max_length=PROJECT_DESCRIPTION_MAX)


@router.patch("/api/v1/projects/{entity}/{project}", response_model=Project)
async def patch_project(entity: str, project: str, body: ProjectPatch, who: PrincipalDep, pool: PoolDep,
                        address: AddressDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction():
        p = await project_for_manage(conn, who, entity, project)  # first: nobody learns anything of others'
        if body.visibility is None and body.description is None:
            raise InvalidArgument("nothing to change: send `visibility` and/or `description`")
        await update_project(conn, p["id"], body.visibility, body.description)
        if body.visibility is not None and body.visibility != p["visibility"]:
            await audit.record(conn, "project.settings", actor=who, target=f"{entity}/{project}",
                               address=address,
                               detail={"visibility": body.visibility, "was": p["visibility"]})
        row = await project_with_stats(conn, p["id"])
    if row is None:
        raise NotFound(f"project {entity}/{project} not found")
    return RunyardJSONResponse(project_json(row))
