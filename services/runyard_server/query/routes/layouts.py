"""Saved workspace layouts: each user's own arrangement of a project's panels, and shared snapshots.

`GET|PUT|DELETE /api/v1/projects/{entity}/{project}/workspace` (the caller's layout of the project) and
`POST /api/v1/projects/{entity}/{project}/views`, `GET .../views/{view_id}` (a read-only snapshot a link
names). Reading the project is what it takes: a layout is the reader's own arrangement, not project data,
so viewers keep theirs too; a project the caller may not read is 404. The layout document is the web UI's
(services/web/src/panels/layout.ts); the service only checks that it is a JSON object of bounded size.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ...common.errors import NotFound, ResourceExhausted
from ...common.formats import iso
from ...common.verifier import project_for_read
from ...http.schemas import JsonValue
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.layouts import create_view, delete_layout, get_layout, get_view, put_layout
from ..schemas import ERROR_RESPONSES

router = APIRouter(tags=["workspace"], responses=ERROR_RESPONSES)

LAYOUT_MAX_BYTES = 256 * 1024
QUERY_MAX = 8192


# Inputs are plain objects (`dict[str, Any]`): the recursive JsonValue schema as an input as well would split
# into JsonValue-Input / -Output in the OpenAPI document.
class LayoutIn(BaseModel):
    layout: dict[str, Any] = Field(description="the UI's layout document (at most 256 KiB of JSON)")


class LayoutOut(BaseModel):
    layout: dict[str, JsonValue] | None = Field(description="null: the caller has not arranged this project yet")
    updated_at: str | None


class ViewIn(BaseModel):
    layout: dict[str, Any] = Field(description="the UI's layout document (at most 256 KiB of JSON)")
    query: str = Field("", max_length=QUERY_MAX, description="the page's URL query (filter, sort, runs shown, ...)")


class ViewOut(BaseModel):
    id: str
    layout: dict[str, JsonValue]
    query: str
    created_by: str | None
    created_at: str


def _checked(layout: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(layout, separators=(",", ":")).encode())
    if size > LAYOUT_MAX_BYTES:
        raise ResourceExhausted(f"layout is {size:,} bytes of JSON; at most {LAYOUT_MAX_BYTES:,}")
    return layout


def _view(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "layout": row["layout"], "query": row["query"], "created_by": row["created_by"],
            "created_at": iso(row["created_at"])}


@router.get("/api/v1/projects/{entity}/{project}/workspace", response_model=LayoutOut)
async def read_layout(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    """The caller's saved layout of the project's workspace (null when there is none)."""
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        row = await get_layout(conn, p["id"], who.user_id)
    return RunyardJSONResponse({"layout": row["layout"] if row else None,
                                "updated_at": iso(row["updated_at"]) if row else None})


@router.put("/api/v1/projects/{entity}/{project}/workspace", response_model=LayoutOut)
async def save_layout(entity: str, project: str, body: LayoutIn, who: PrincipalDep,
                      pool: PoolDep) -> RunyardJSONResponse:
    """Save the caller's layout of the project (replaces the previous one)."""
    layout = _checked(body.layout)
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        row = await put_layout(conn, p["id"], who.user_id, layout)
    return RunyardJSONResponse({"layout": row["layout"], "updated_at": iso(row["updated_at"])})


@router.delete("/api/v1/projects/{entity}/{project}/workspace", status_code=204)
async def reset_layout(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> Response:
    """Forget the caller's layout: the workspace goes back to the automatic one."""
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        await delete_layout(conn, p["id"], who.user_id)
    return Response(status_code=204)


@router.post("/api/v1/projects/{entity}/{project}/views", response_model=ViewOut, status_code=201)
async def share_view(entity: str, project: str, body: ViewIn, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    """A read-only snapshot of a layout (and the page's query) for a link: `/{entity}/{project}?view=ID`."""
    layout = _checked(body.layout)
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        row = await create_view(conn, secrets.token_urlsafe(9), p["id"], who.user_id, layout, body.query)
    return RunyardJSONResponse(_view(row), status_code=201)


@router.get("/api/v1/projects/{entity}/{project}/views/{view_id}", response_model=ViewOut)
async def read_view(entity: str, project: str, view_id: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    """A shared snapshot; every reader of the project may open it."""
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        row = await get_view(conn, p["id"], view_id) if len(view_id) <= 64 else None
    if row is None:
        raise NotFound(f"no shared view {view_id!r} in {entity}/{project}")
    return RunyardJSONResponse(_view(row))
